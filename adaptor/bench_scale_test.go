package adaptor_test

import (
	"context"
	"fmt"
	"github.com/mqwal/mqwal/internal/benchkit"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// BenchmarkScale: the cost of each idle channel of one opener, through the
// adaptor and on the bare driver in the same run. N ReadWrite channels
// (term 1) are opened one after the other, one 1 KiB message appended to
// each, and, with "scan", a DeliverAll scanner opened on each that has
// read its message. Reported per channel: heap (HeapInuse after
// runtime.GC, minus the same before the first Open), goroutines, and Open
// time (first and last tenth of the Opens, to see it grow with N).
//
//	go test -run '^$' -bench Scale -benchtime 1x ./adaptor/
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		for _, backend := range []string{"memory", "rmq"} {
			for _, scan := range []bool{false, true} {
				name := fmt.Sprintf("%s/N=%d/scan=%v", backend, n, scan)
				b.Run(name+"/adaptor", func(b *testing.B) {
					for range b.N {
						scaleRun(b, backend, n, scan, true)
					}
				})
				b.Run(name+"/driver", func(b *testing.B) {
					for range b.N {
						scaleRun(b, backend, n, scan, false)
					}
				})
			}
		}
	}
}

// scaleChannel is one open channel, either way.
type scaleChannel struct {
	close func()
}

func scaleRun(b *testing.B, backend string, n int, scan, adapted bool) {
	builder := scaleBackends(b)[backend]
	impl, err := builder.Build()
	if err != nil {
		b.Fatal(err)
	}
	var o wal.Opener
	if adapted {
		o = adaptor.NewOpener(builder.Name(), impl)
	}
	closeOpener := func() {
		if o != nil {
			o.Close()
		} else {
			impl.Close()
		}
	}
	ctx := context.Background()
	payload := randomPayload(1024)
	heap0, g0 := benchkit.SettledHeap()
	opens := make([]time.Duration, n)
	chans := make([]scaleChannel, 0, n)
	start := time.Now()
	for i := range n {
		opt := &wal.OpenOption{Channel: wal.Channel{Name: fmt.Sprintf("scale%d", i), Term: 1}}
		t0 := time.Now()
		var c scaleChannel
		if adapted {
			c, err = openAdapted(ctx, o, opt, payload, scan)
		} else {
			c, err = openBare(ctx, impl, opt, payload, scan)
		}
		opens[i] = time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		chans = append(chans, c)
	}
	total := time.Since(start)
	heap1, g1 := benchkit.SettledHeap()
	b.ReportMetric(float64(heap1-heap0)/float64(n)/1024, "heap-KiB/ch")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/ch")
	b.ReportMetric(float64(total.Microseconds())/float64(n), "µs/ch")
	tenth := max(n/10, 1)
	b.ReportMetric(float64(benchkit.Sum(opens[:tenth]).Microseconds())/float64(tenth), "first10%-open-µs")
	b.ReportMetric(float64(benchkit.Sum(opens[n-tenth:]).Microseconds())/float64(tenth), "last10%-open-µs")
	t0 := time.Now()
	for _, c := range chans {
		if c.close != nil && !adapted {
			c.close()
		}
	}
	closeOpener()
	b.ReportMetric(float64(time.Since(t0).Milliseconds()), "close-ms")
}

// openAdapted opens, appends and (with scan) reads the message back
// through the adaptor; the opener's Close closes it all.
func openAdapted(ctx context.Context, o wal.Opener, opt *wal.OpenOption, payload []byte, scan bool) (scaleChannel, error) {
	w, err := o.Open(ctx, opt)
	if err != nil {
		return scaleChannel{}, err
	}
	if _, err := w.Append(ctx, message.NewMutableMessage(payload, nil)); err != nil {
		return scaleChannel{}, err
	}
	if scan {
		s, err := w.Read(ctx, wal.ReadOption{DeliverPolicy: wal.DeliverAll()})
		if err != nil {
			return scaleChannel{}, err
		}
		if _, ok := <-s.Chan(); !ok {
			return scaleChannel{}, s.Error()
		}
	}
	return scaleChannel{}, nil
}

// openBare does the same on the bare driver (no fence record: that is the
// adaptor's).
func openBare(ctx context.Context, o walimpls.OpenerImpls, opt *wal.OpenOption, payload []byte, scan bool) (scaleChannel, error) {
	w, err := o.Open(ctx, opt)
	if err != nil {
		return scaleChannel{}, err
	}
	if _, err := w.Append(ctx, message.NewMutableMessage(payload, nil)); err != nil {
		return scaleChannel{}, err
	}
	c := scaleChannel{close: w.Close}
	if scan {
		s, err := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
		if err != nil {
			return scaleChannel{}, err
		}
		if _, ok := <-s.Chan(); !ok {
			return scaleChannel{}, s.Error()
		}
		c.close = func() { _ = s.Close(); w.Close() }
	}
	return c, nil
}

// BenchmarkCacheHeap: 62 MiB of 1 KiB appends spread over 1,000 rmq
// channels of one opener, without and with a tailing scanner on each; heap
// growth is what the write-ahead cache (and the scanners) keep, bounded by
// the opener's budget (64 MiB), and nothing without scanners.
//
//	go test -run '^$' -bench CacheHeap -benchtime 1x ./adaptor/
func BenchmarkCacheHeap(b *testing.B) {
	for _, scan := range []bool{false, true} {
		b.Run(fmt.Sprintf("scan=%v", scan), func(b *testing.B) {
			for range b.N {
				o, err := adaptor.NewOpenerBuilder(scaleBackends(b)["rmq"]).Build()
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				ws := openMany(ctx, b, o, "heap", 1000)
				for _, w := range ws {
					if scan {
						s, err := w.Read(ctx, wal.ReadOption{DeliverPolicy: wal.DeliverLatest()})
						if err != nil {
							b.Fatal(err)
						}
						go func() {
							for range s.Chan() {
							}
						}()
					}
				}
				heap0, _ := benchkit.SettledHeap()
				for range 62 {
					for _, w := range ws {
						if _, err := w.Append(ctx, message.NewMutableMessage(randomPayload(1024), nil)); err != nil {
							b.Fatal(err)
						}
					}
				}
				heap1, _ := benchkit.SettledHeap()
				b.ReportMetric(float64(int64(heap1)-int64(heap0))/(1<<20), "heap-MiB")
				o.Close()
			}
		})
	}
}
