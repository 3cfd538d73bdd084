package prommetrics_test

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/adaptor/prommetrics"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// Register the metrics and hand them to the adaptor as hooks.
func ExampleNew() {
	m := prommetrics.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)

	opener, _ := adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(memory.NewStore())), adaptor.WithHooks(m)).Build()
	defer opener.Close()
	w, _ := opener.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: "orders", Term: 1}})
	for range 3 {
		_, _ = w.Append(context.Background(), message.NewMutableMessage([]byte("x"), nil))
	}
	families, _ := reg.Gather()
	for _, f := range families {
		if f.GetName() == "mqwal_append_total" {
			for _, s := range f.GetMetric() {
				fmt.Println(s.GetLabel()[2].GetValue(), s.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// error 0
	// ok 3
}
