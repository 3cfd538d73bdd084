package rmq_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/mqwal/mqwal/impls/rmq"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

func ExampleNewBuilder() {
	dir, _ := os.MkdirTemp("", "rmq-example")
	defer os.RemoveAll(dir)

	opener, err := rmq.NewBuilder(rmq.WithPath(dir), rmq.WithSyncMode(rmq.SyncAlways)).Build()
	if err != nil {
		panic(err)
	}
	defer opener.Close()
	ctx := context.Background()
	w, err := opener.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "orders", Term: 1}})
	if err != nil {
		panic(err)
	}
	for _, p := range []string{"created", "paid"} {
		id, err := w.Append(ctx, message.NewMutableMessage([]byte(p), message.Properties{"kind": "order"}))
		if err != nil {
			panic(err)
		}
		fmt.Println("appended", id)
	}
	s, err := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	for range 2 {
		m := <-s.Chan()
		fmt.Printf("read %s %s\n", m.MessageID(), m.Payload())
	}
	// Output:
	// appended 0
	// appended 1
	// read 0 created
	// read 1 paid
}

func ExampleParseSyncMode() {
	m, err := rmq.ParseSyncMode("group")
	fmt.Println(m, err)
	_, err = rmq.ParseSyncMode("fast")
	fmt.Println(err)
	// Output:
	// group <nil>
	// invalid argument: rmq sync mode "fast": use sync, group or none
}

func ExampleWithPebbleOptions() {
	// Tuning overrides apply after the driver's log defaults.
	b := rmq.NewBuilder(rmq.WithPath("/var/lib/myapp/wal"), rmq.WithPebbleOptions(func(o *pebble.Options) {
		o.MemTableSize = 128 << 20
	}))
	fmt.Println(b.Name(), b.Path())
	// Output: rmq /var/lib/myapp/wal
}

func ExampleWithReadOnly() {
	dir, _ := os.MkdirTemp("", "rmq-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	w1, _ := rmq.NewBuilder(rmq.WithPath(dir)).Build()
	w, _ := w1.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "orders", Term: 1}})
	_, _ = w.Append(ctx, message.NewMutableMessage([]byte("created"), nil))
	w1.Close()

	// A reader that writes nothing: it works on a full disk too.
	opener, err := rmq.NewBuilder(rmq.WithPath(dir), rmq.WithReadOnly()).Build()
	if err != nil {
		panic(err)
	}
	defer opener.Close()
	r, err := opener.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "orders", AccessMode: walimpls.ReadOnly}})
	if err != nil {
		panic(err)
	}
	s, err := r.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	m := <-s.Chan()
	fmt.Printf("read %s %s\n", m.MessageID(), m.Payload())
	_, err = opener.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "orders", Term: 2}})
	fmt.Println(errors.Is(err, walimpls.ErrReadOnly))
	// Output:
	// read 0 created
	// true
}

// An rmq WAL describes its channel (walctl stat), and its opener lists the
// channels of the data directory.
func Example_stat() {
	dir, _ := os.MkdirTemp("", "rmq-stat")
	defer os.RemoveAll(dir)
	o, err := rmq.NewBuilder(rmq.WithPath(dir)).Build()
	if err != nil {
		panic(err)
	}
	defer o.Close()
	ctx := context.Background()
	w, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "orders", Term: 1}})
	if err != nil {
		panic(err)
	}
	for i := range 3 {
		if _, err := w.Append(ctx, message.NewMutableMessage([]byte(fmt.Sprint("order ", i)), nil)); err != nil {
			panic(err)
		}
	}
	names, _ := o.(walimpls.ChannelLister).ListChannels(ctx)
	st, _ := w.(walimpls.StatReader).Stat(ctx)
	fmt.Println(names, st.First, st.Last, st.Messages, st.Term, st.Writer)
	// Output: [orders] 0 2 3 1 held
}
