package adaptor_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// appendCounter is a hook: it implements adaptor.HookAppended.
type appendCounter struct{ ok, failed atomic.Int64 }

func (c *appendCounter) OnAppended(_ adaptor.WALInfo, e adaptor.AppendEvent) {
	if e.Err != nil {
		c.failed.Add(1)
	} else {
		c.ok.Add(1)
	}
}

// Adapt a driver builder constructed with its own options (as config does
// from a YAML file) and count the appends of every WAL it opens with a
// hook (package adaptor/prommetrics has the Prometheus one).
func ExampleNewOpenerBuilder() {
	appends := &appendCounter{}
	builder := adaptor.NewOpenerBuilder(
		memory.NewBuilder(memory.WithStore(memory.NewStore()), memory.WithMaxMessageSize(1<<10)),
		adaptor.WithHooks(appends),
		adaptor.WithMaxInFlightBytes(1<<20),
	)
	opener, err := builder.Build()
	if err != nil {
		panic(err)
	}
	defer opener.Close()
	fmt.Println(builder.Name(), "limit", opener.Capabilities().MaxMessageSize)

	ctx := context.Background()
	w, err := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "events", Term: 3}})
	if err != nil {
		panic(err)
	}
	res, err := w.Append(ctx, message.NewMutableMessage([]byte("hello"), nil))
	if err != nil {
		panic(err)
	}
	fmt.Println("term", res.Term)
	_, err = w.Append(ctx, message.NewMutableMessage(make([]byte, 2000), nil))
	fmt.Println(err != nil)

	// The fence record written at Open is the adaptor's, not counted.
	fmt.Println("appends ok", appends.ok.Load(), "failed", appends.failed.Load())
	// Output:
	// memory limit 960
	// term 3
	// true
	// appends ok 1 failed 1
}

// The adaptor logs through log/slog, and nothing unless given a logger.
// A service that logs with zap hands it its zap core through
// go.uber.org/zap/exp/zapslog.
func ExampleWithLogger() {
	zl := zap.NewExample() // the service's own zap logger
	defer func() { _ = zl.Sync() }()
	store := memory.NewStore()
	seedChannel(store, "audit") // a ReadOnly open needs a channel that exists
	opener, err := adaptor.NewOpenerBuilder(
		memory.NewBuilder(memory.WithStore(store)),
		adaptor.WithLogger(slog.New(zapslog.NewHandler(zl.Core()))),
	).Build()
	if err != nil {
		panic(err)
	}
	w, err := opener.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: "audit", Term: 1, AccessMode: wal.ReadOnly}})
	if err != nil {
		panic(err)
	}
	w.Close()
	opener.Close()
	// Output:
	// {"level":"info","msg":"wal opened","backend":"memory","channel":"audit","term":1,"mode":"ReadOnly","cache":false}
	// {"level":"info","msg":"wal unavailable","backend":"memory","channel":"audit","term":1,"reason":"closed"}
	// {"level":"info","msg":"wal closed","backend":"memory","channel":"audit","term":1}
	// {"level":"info","msg":"opener closed","backend":"memory","wals":0}
}

// seedChannel creates channel in store, as a writer would, without logging.
func seedChannel(store *memory.Store, channel string) {
	impl, _ := memory.NewBuilder(memory.WithStore(store)).Build()
	defer impl.Close()
	w, err := impl.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: channel, AccessMode: walimpls.ReadWrite}})
	if err != nil {
		panic(err)
	}
	w.Close()
}
