package prommetrics_test

import (
	"context"
	"testing"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/adaptor/prommetrics"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// BenchmarkAppendHooks: an Append over memory without hooks and with the
// Prometheus metrics, alternating sub-benchmarks; the difference is what
// the hooks cost per append.
//
//	go test -run '^$' -bench AppendHooks -count 5 ./adaptor/prommetrics/
func BenchmarkAppendHooks(b *testing.B) {
	for _, name := range []string{"none", "prommetrics"} {
		b.Run(name, func(b *testing.B) {
			var opts []adaptor.Option
			if name == "prommetrics" {
				opts = append(opts, adaptor.WithHooks(prommetrics.New()))
			}
			o, err := adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(memory.NewStore())), opts...).Build()
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: "bench", Term: 1}})
			if err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, 1024)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := w.Append(context.Background(), message.NewMutableMessage(payload, nil)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
