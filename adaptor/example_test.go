package adaptor_test

import (
	"context"
	"fmt"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// Adapt a driver builder constructed with its own options (as config does
// from a YAML file) and add metrics to every WAL it opens.
func ExampleNewOpenerBuilder() {
	metrics := interceptors.NewMetrics() // also a prometheus.Collector
	builder := adaptor.NewOpenerBuilder(
		memory.NewBuilder(memory.WithStore(memory.NewStore()), memory.WithMaxMessageSize(1<<10)),
		adaptor.WithInterceptors(metrics),
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

	c, _ := metrics.Snapshot().Channel("memory", "events")
	// One more ok append than the application made: the fence record.
	fmt.Println("appends ok", c.Appends, "failed", c.AppendErrors)
	// Output:
	// memory limit 960
	// term 3
	// true
	// appends ok 2 failed 1
}
