package adaptor_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/kafka"
	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/impls/rmq"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// The *Ratio benchmarks interleave the two sides of a comparison in every
// iteration, on one backend instance, so that load from other processes
// hits both alike; they report each side's median and the ratio:
//
//	go test -run '^$' -bench Ratio -benchtime 3000x ./adaptor/

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// sharedBackend returns two builders of one backend instance (one memory
// store, or one rmq directory, whose openers share one Pebble).
func sharedBackend(b *testing.B, kind string) (walimpls.OpenerBuilderImpls, walimpls.OpenerBuilderImpls) {
	switch kind {
	case "memory":
		s := memory.NewStore()
		return memory.NewBuilder(memory.WithStore(s)), memory.NewBuilder(memory.WithStore(s))
	case "rmq-sync", "rmq-nosync":
		mode := rmq.SyncAlways
		if kind == "rmq-nosync" {
			mode = rmq.SyncNone
		}
		dir := b.TempDir()
		return rmq.NewBuilder(rmq.WithPath(dir), rmq.WithSyncMode(mode)), rmq.NewBuilder(rmq.WithPath(dir), rmq.WithSyncMode(mode))
	case "kafka":
		c, err := kafkatest.Start(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		return kafka.NewBuilder(kafka.WithBrokers(c.Addrs()...)), kafka.NewBuilder(kafka.WithBrokers(c.Addrs()...))
	}
	b.Fatalf("unknown backend %s", kind)
	return nil, nil
}

func openRawOn(b *testing.B, builder walimpls.OpenerBuilderImpls, ch string) walimpls.WALImpls {
	o, err := builder.Build()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(o.Close)
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

func openWALOn(b *testing.B, builder walimpls.OpenerBuilderImpls, ch string, opts ...adaptor.Option) wal.WAL {
	o, err := adaptor.NewOpenerBuilder(builder, opts...).Build()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(o.Close)
	w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: ch, Term: 1}})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkAppendRatio: the adaptor's Append against the bare driver's,
// alternating, with 1 and 8 appenders. throughput-ratio is raw median /
// adaptor median (1.0 = no cost); overhead-ns is their difference.
func BenchmarkAppendRatio(b *testing.B) {
	for _, kind := range []string{"memory", "rmq-sync", "rmq-nosync"} {
		for _, appenders := range []int{1, 8} {
			b.Run(kind+"/x"+itoa(appenders), func(b *testing.B) {
				rb, wb := sharedBackend(b, kind)
				raw := openRawOn(b, rb, "raw")
				w := openWALOn(b, wb, "wal")
				payload := randomPayload(1024)
				ctx := context.Background()
				var mu sync.Mutex
				var rawD, walD []time.Duration
				per := (b.N + appenders - 1) / appenders
				b.ResetTimer()
				var wg sync.WaitGroup
				for range appenders {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r, a := make([]time.Duration, 0, per), make([]time.Duration, 0, per)
						for range per {
							t0 := time.Now()
							if _, err := raw.Append(ctx, message.NewMutableMessage(payload, nil)); err != nil {
								b.Error(err)
								return
							}
							t1 := time.Now()
							if _, err := w.Append(ctx, message.NewMutableMessage(payload, nil)); err != nil {
								b.Error(err)
								return
							}
							r, a = append(r, t1.Sub(t0)), append(a, time.Since(t1))
						}
						mu.Lock()
						rawD, walD = append(rawD, r...), append(walD, a...)
						mu.Unlock()
					}()
				}
				wg.Wait()
				b.StopTimer()
				mr, mw := median(rawD), median(walD)
				b.ReportMetric(float64(mr.Nanoseconds()), "raw-p50-ns")
				b.ReportMetric(float64(mw.Nanoseconds()), "wal-p50-ns")
				b.ReportMetric(float64(mw.Nanoseconds()-mr.Nanoseconds()), "overhead-ns")
				b.ReportMetric(float64(mr)/float64(mw), "throughput-ratio")
			})
		}
	}
}

// BenchmarkTailRatio: append one message, wait for a tailing scanner to
// deliver it; a WAL with the write-ahead cache and one without, alternating
// on one backend instance. e2e is Append start to delivery, lag is Append
// return to delivery (what a reader waits after the writer was told the
// message is durable). The ratios are cached over uncached.
func BenchmarkTailRatio(b *testing.B) {
	for _, kind := range []string{"memory", "rmq-sync", "rmq-nosync", "kafka"} {
		b.Run(kind, func(b *testing.B) {
			nb, cb := sharedBackend(b, kind)
			plain := openWALOn(b, nb, "plain", adaptor.WithWriteAheadCache(0))
			cached := openWALOn(b, cb, "cached", adaptor.WithWriteAheadCache(16<<20))
			ctx := context.Background()
			payload := randomPayload(1024)
			scan := func(w wal.WAL) wal.Scanner {
				s, err := w.Read(ctx, wal.ReadOption{DeliverPolicy: wal.DeliverLatest()})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				return s
			}
			sp, sc := scan(plain), scan(cached)
			roundTrip := func(w wal.WAL, s wal.Scanner) (e2e, lag time.Duration) {
				t0 := time.Now()
				if _, err := w.Append(ctx, message.NewMutableMessage(payload, nil)); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				select {
				case <-s.Chan():
				case <-time.After(10 * time.Second):
					b.Fatal("tailing scanner delivered nothing")
				}
				t2 := time.Now()
				return t2.Sub(t0), t2.Sub(t1)
			}
			for range 50 { // reach the tail (and the cache)
				roundTrip(plain, sp)
				roundTrip(cached, sc)
			}
			var pe, pl, ce, cl []time.Duration
			b.ResetTimer()
			for range b.N {
				e, l := roundTrip(plain, sp)
				pe, pl = append(pe, e), append(pl, l)
				e, l = roundTrip(cached, sc)
				ce, cl = append(ce, e), append(cl, l)
			}
			b.StopTimer()
			report := func(name string, d []time.Duration) time.Duration {
				m := median(d)
				b.ReportMetric(float64(m.Nanoseconds()), name+"-p50-ns")
				return m
			}
			p99 := func(d []time.Duration) time.Duration { return d[len(d)*99/100] } // sorted by median
			mpe, mce := report("e2e-nocache", pe), report("e2e-cache", ce)
			mpl, mcl := report("lag-nocache", pl), report("lag-cache", cl)
			b.ReportMetric(float64(mce)/float64(mpe), "e2e-ratio")
			b.ReportMetric(float64(p99(ce))/float64(p99(pe)), "e2e-p99-ratio")
			b.ReportMetric(float64(mcl)/float64(mpl), "lag-ratio")
			fromCache, _, _ := adaptor.ScannerStats(sc)
			b.ReportMetric(float64(fromCache)/float64(b.N+50), "cache-share")
		})
	}
}

func itoa(i int) string {
	return string(rune('0' + i))
}
