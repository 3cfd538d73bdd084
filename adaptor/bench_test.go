package adaptor_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/impls/rmq"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// Benchmarks compare the adaptor with the bare driver in one run:
//
//	go test -run '^$' -bench . -count 5 ./adaptor/ | tee bench.txt
//
// Append*_RAW vs Append*_WAL: throughput of the adaptor over the driver
// (rmq in its default fsync mode, one appender and 8 in parallel; memory for
// the adaptor's own overhead in ns/op). TailLatency*: time from the start
// of an Append to the delivery of that message by a tailing scanner, with
// and without the write-ahead cache.

func randomPayload(n int) []byte {
	p := make([]byte, n)
	_, _ = rand.Read(p)
	return p
}

func benchRMQBuilder(b *testing.B, mode rmq.SyncMode) walimpls.OpenerBuilderImpls {
	return rmq.NewBuilder(rmq.WithPath(b.TempDir()), rmq.WithSyncMode(mode))
}

func rawWAL(b *testing.B, builder walimpls.OpenerBuilderImpls) walimpls.WALImpls {
	o, err := builder.Build()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(o.Close)
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "bench", Term: 1}})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

func adaptedWAL(b *testing.B, builder walimpls.OpenerBuilderImpls, opts ...adaptor.Option) wal.WAL {
	o, err := adaptor.NewOpenerBuilder(builder, opts...).Build()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(o.Close)
	w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: "bench", Term: 1}})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

func benchAppend(b *testing.B, parallel bool, appendFn func(context.Context, message.MutableMessage) error) {
	payload := randomPayload(1024)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	ctx := context.Background()
	if !parallel {
		for range b.N {
			if err := appendFn(ctx, message.NewMutableMessage(payload, nil)); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(4) // 8 appenders on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := appendFn(ctx, message.NewMutableMessage(payload, nil)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func rawAppend(w walimpls.WALImpls) func(context.Context, message.MutableMessage) error {
	return func(ctx context.Context, m message.MutableMessage) error { _, err := w.Append(ctx, m); return err }
}

func walAppend(w wal.WAL) func(context.Context, message.MutableMessage) error {
	return func(ctx context.Context, m message.MutableMessage) error { _, err := w.Append(ctx, m); return err }
}

func BenchmarkAppendRMQ_RAW(b *testing.B) {
	benchAppend(b, false, rawAppend(rawWAL(b, benchRMQBuilder(b, rmq.SyncAlways))))
}
func BenchmarkAppendRMQ_WAL(b *testing.B) {
	benchAppend(b, false, walAppend(adaptedWAL(b, benchRMQBuilder(b, rmq.SyncAlways))))
}
func BenchmarkAppendRMQx8_RAW(b *testing.B) {
	benchAppend(b, true, rawAppend(rawWAL(b, benchRMQBuilder(b, rmq.SyncAlways))))
}
func BenchmarkAppendRMQx8_WAL(b *testing.B) {
	benchAppend(b, true, walAppend(adaptedWAL(b, benchRMQBuilder(b, rmq.SyncAlways))))
}
func BenchmarkAppendMemory_RAW(b *testing.B) {
	benchAppend(b, false, rawAppend(rawWAL(b, memory.NewBuilder(memory.WithStore(memory.NewStore())))))
}
func BenchmarkAppendMemory_WAL(b *testing.B) {
	benchAppend(b, false, walAppend(adaptedWAL(b, memory.NewBuilder(memory.WithStore(memory.NewStore())))))
}
func BenchmarkAppendMemory_WALCache(b *testing.B) {
	benchAppend(b, false, walAppend(adaptedWAL(b, memory.NewBuilder(memory.WithStore(memory.NewStore())), adaptor.WithWriteAheadCache(16<<20))))
}

// benchTail appends one message at a time and waits until a tailing scanner
// delivers it; ns/op is append start to delivery.
func benchTail(b *testing.B, builder walimpls.OpenerBuilderImpls, cacheBytes int) {
	w := adaptedWAL(b, builder, adaptor.WithWriteAheadCache(cacheBytes))
	ctx := context.Background()
	s, err := w.Read(ctx, wal.ReadOption{Name: "tail", DeliverPolicy: wal.DeliverLatest()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := randomPayload(1024)
	// Warm up: let the scanner reach the tail (and the cache, if any).
	for range 100 {
		if _, err := w.Append(ctx, message.NewMutableMessage(payload, nil)); err != nil {
			b.Fatal(err)
		}
		<-s.Chan()
	}
	var appendNanos atomic.Int64
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := w.Append(ctx, message.NewMutableMessage(payload, nil)); err != nil {
			b.Fatal(err)
		}
		appendNanos.Add(int64(time.Since(start)))
		select {
		case <-s.Chan():
		case <-time.After(10 * time.Second):
			b.Fatal("tailing scanner delivered nothing")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(appendNanos.Load())/float64(b.N), "append-ns/op")
	fromCache, _, _ := adaptor.ScannerStats(s)
	b.ReportMetric(float64(fromCache)/float64(b.N+100), "cache-share")
}

func BenchmarkTailLatency(b *testing.B) {
	for _, bk := range []struct {
		name    string
		builder func(b *testing.B) walimpls.OpenerBuilderImpls
	}{
		{"memory", func(*testing.B) walimpls.OpenerBuilderImpls {
			return memory.NewBuilder(memory.WithStore(memory.NewStore()))
		}},
		{"rmq-sync", func(b *testing.B) walimpls.OpenerBuilderImpls { return benchRMQBuilder(b, rmq.SyncAlways) }},
		{"rmq-nosync", func(b *testing.B) walimpls.OpenerBuilderImpls { return benchRMQBuilder(b, rmq.SyncNone) }},
	} {
		for _, cache := range []int{0, 16 << 20} {
			b.Run(fmt.Sprintf("%s/cache=%v", bk.name, cache > 0), func(b *testing.B) { benchTail(b, bk.builder(b), cache) })
		}
	}
}
