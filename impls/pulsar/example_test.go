package pulsar_test

import (
	"context"
	"fmt"
	"time"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// A WAL on a Pulsar topic: here the in-process test broker; in production
// WithURL (or MQWAL_PULSAR_URL) names the cluster.
func ExampleNewBuilder() {
	broker, _ := pulsartest.Start()
	defer broker.Close()
	opener, err := pulsar.NewBuilder(pulsar.WithURL(broker.URL()), pulsar.WithTopicPrefix("app-")).Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opener.Close()
	ctx := context.Background()
	w, err := opener.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "orders", Term: 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	for _, p := range []string{"created", "paid"} {
		if _, err := w.Append(ctx, message.NewMutableMessage([]byte(p), message.Properties{"kind": p})); err != nil {
			fmt.Println(err)
			return
		}
	}
	s, _ := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	defer s.Close()
	for range 2 {
		m := <-s.Chan()
		fmt.Println(m.MessageID(), string(m.Payload()), m.Properties())
	}
	// Output:
	// 1:1:0 created map[kind:created]
	// 1:2:0 paid map[kind:paid]
}

// IDs have a stable text form for checkpoints.
func ExampleParseID() {
	id := pulsar.NewID(12, 345, 0)
	back, _ := message.UnmarshalMessageID(pulsar.Name, id.Marshal())
	fmt.Println(id.Marshal(), back.EQ(id), pulsar.NewID(12, 344, 3).LT(id))
	// Output: 12:345:0 true true
}

// Many channels with a tailing scanner each: idle scanners park after a
// second instead of the default, so thousands of quiet channels cost the
// process almost nothing; the next message wakes them.
func ExampleWithScannerParkAfter() {
	broker, _ := pulsartest.Start()
	defer broker.Close()
	opener, err := pulsar.NewBuilder(pulsar.WithURL(broker.URL()), pulsar.WithScannerParkAfter(time.Second)).Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opener.Close()
	ctx := context.Background()
	w, err := opener.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "tenant-42", Term: 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	s, _ := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverLatest()})
	defer s.Close()
	if _, err := w.Append(ctx, message.NewMutableMessage([]byte("after a quiet while"), nil)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string((<-s.Chan()).Payload()))
	// Output: after a quiet while
}
