package kafka

import (
	"context"
	"fmt"
	"github.com/mqwal/mqwal/internal/benchkit"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/message"
	mqwal "github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// BenchmarkScale: the cost of each idle channel of one opener, through the
// adaptor (as an application opens channels) and on the bare driver, as
// adaptor.BenchmarkScale measures memory and rmq. N ReadWrite channels
// (term 1) are opened one after the other, one 1 KiB message appended to
// each, and, with "scan", a DeliverAll scanner opened on each that has
// read its message. Reported per channel: heap (HeapInuse after
// runtime.GC, minus the same before the first Open), goroutines, and Open
// time (with the append, and with "scan" the scanner's first message: the
// mean of all, of the first and of the last tenth of them, to see it grow
// with N); for the opener: the connections it holds to the in-process
// cluster and how long its Close takes. With "scan", the idle cost
// follows: a second after the last Open, for idleFor, nothing is appended
// while the N scanners tail, and the process's CPU time (client and
// broker, both in this process: an upper bound of each) and the fetch
// requests the broker answered are reported per second.
//
//	go test -run '^$' -bench Scale -benchtime 1x -timeout 30m ./impls/kafka/
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		for _, scan := range []bool{false, true} {
			for _, adapted := range []bool{true, false} {
				name := fmt.Sprintf("N=%d/scan=%v/driver", n, scan)
				if adapted {
					name = fmt.Sprintf("N=%d/scan=%v/adaptor", n, scan)
				}
				b.Run(name, func(b *testing.B) {
					for range b.N {
						scaleRun(b, n, scan, adapted)
					}
				})
			}
		}
	}
}

const idleFor = 5 * time.Second

func scaleRun(b *testing.B, n int, scan, adapted bool) {
	c := benchCluster(b)
	fetches := countFetches(c)
	builder := NewBuilder(WithBrokers(c.Addrs()...))
	impl, err := builder.Build()
	if err != nil {
		b.Fatal(err)
	}
	var o mqwal.Opener
	if adapted {
		o = adaptor.NewOpener(Name, impl)
	}
	ctx := context.Background()
	payload := benchPayload()
	heap0, g0 := benchkit.SettledHeap()
	conns0 := c.Connections()
	opens := make([]time.Duration, n)
	var closers []func()
	for i := range n {
		ch := walimpls.Channel{Name: fmt.Sprintf("scale-%d", i), Term: 1}
		t0 := time.Now()
		if adapted {
			err = openAdapted(ctx, o, ch, payload, scan)
		} else {
			var closeCh func()
			closeCh, err = openBare(ctx, impl, ch, payload, scan)
			closers = append(closers, closeCh)
		}
		opens[i] = time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
	}
	heap1, g1 := benchkit.SettledHeap()
	b.ReportMetric(float64(int64(heap1)-int64(heap0))/float64(n)/1024, "heap-KiB/ch")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/ch")
	b.ReportMetric(float64(c.Connections()-conns0), "connections")
	b.ReportMetric(float64(benchkit.Sum(opens).Microseconds())/float64(n), "open-µs")
	tenth := max(n/10, 1)
	b.ReportMetric(float64(benchkit.Sum(opens[:tenth]).Microseconds())/float64(tenth), "first10%-open-µs")
	b.ReportMetric(float64(benchkit.Sum(opens[n-tenth:]).Microseconds())/float64(tenth), "last10%-open-µs")
	if scan {
		time.Sleep(time.Second) // let the Opens' aftermath (GC, kfake's cleanups) pass
		f0, cpu0, t0 := fetches.Load(), benchkit.CPUTime(), time.Now()
		time.Sleep(idleFor) // measuring what idleness costs: nothing to wait for
		d := time.Since(t0)
		b.ReportMetric(100*float64(benchkit.CPUTime()-cpu0)/float64(d), "idle-cpu-%")
		b.ReportMetric(float64(fetches.Load()-f0)/d.Seconds(), "idle-fetches/s")
	}
	t0 := time.Now()
	for _, closeCh := range closers {
		closeCh()
	}
	if o != nil {
		o.Close()
	} else {
		impl.Close()
	}
	b.ReportMetric(float64(time.Since(t0).Milliseconds()), "close-ms")
}

// openAdapted opens, appends and (with scan) reads the message back
// through the adaptor; the opener's Close closes it all.
func openAdapted(ctx context.Context, o mqwal.Opener, ch walimpls.Channel, payload []byte, scan bool) error {
	w, err := o.Open(ctx, &mqwal.OpenOption{Channel: ch})
	if err != nil {
		return err
	}
	if _, err := w.Append(ctx, message.NewMutableMessage(payload, nil)); err != nil {
		return err
	}
	if scan {
		s, err := w.Read(ctx, mqwal.ReadOption{DeliverPolicy: mqwal.DeliverAll()})
		if err != nil {
			return err
		}
		if _, ok := <-s.Chan(); !ok {
			return s.Error()
		}
	}
	return nil
}

// openBare does the same on the bare driver.
func openBare(ctx context.Context, o walimpls.OpenerImpls, ch walimpls.Channel, payload []byte, scan bool) (func(), error) {
	w, err := o.Open(ctx, &walimpls.OpenOption{Channel: ch})
	if err != nil {
		return nil, err
	}
	if _, err := w.Append(ctx, message.NewMutableMessage(payload, nil)); err != nil {
		return nil, err
	}
	if !scan {
		return w.Close, nil
	}
	s, err := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		return nil, err
	}
	if _, ok := <-s.Chan(); !ok {
		return nil, s.Error()
	}
	return func() { _ = s.Close(); w.Close() }, nil
}

// BenchmarkSpreadPaired: 16 appenders spread round-robin over 1,000
// channels of one opener against the same 16 appenders on one channel,
// interleaved in rounds (as BenchmarkAppendPaired); throughput-ratio =
// one-channel time / spread time (>= 1: spreading costs nothing). Through
// the bare driver and through the adaptor.
//
//	go test -run '^$' -bench SpreadPaired -benchtime 20000x -count 5 ./impls/kafka/
func BenchmarkSpreadPaired(b *testing.B) {
	for _, adapted := range []bool{false, true} {
		name := "driver"
		if adapted {
			name = "adaptor"
		}
		b.Run(fmt.Sprintf("c16/N=1000/%s", name), func(b *testing.B) {
			spreadRun(b, 1000, 16, adapted)
		})
	}
}

func spreadRun(b *testing.B, channels, conc int, adapted bool) {
	c := benchCluster(b)
	impl, err := NewBuilder(WithBrokers(c.Addrs()...)).Build()
	if err != nil {
		b.Fatal(err)
	}
	defer impl.Close()
	ctx := context.Background()
	payload := benchPayload()
	props := message.Properties{"k": "v"}
	// appendTo(i) appends to channel i; channel channels is the single one.
	var appendTo func(i int) error
	if adapted {
		o := adaptor.NewOpener(Name, impl)
		defer o.Close()
		ws := make([]mqwal.WAL, channels+1)
		for i := range ws {
			if ws[i], err = o.Open(ctx, &mqwal.OpenOption{Channel: mqwal.Channel{Name: fmt.Sprintf("spread-%d", i), Term: 1}}); err != nil {
				b.Fatal(err)
			}
		}
		appendTo = func(i int) error {
			_, err := ws[i].Append(ctx, message.NewMutableMessage(payload, props))
			return err
		}
	} else {
		ws := make([]walimpls.WALImpls, channels+1)
		for i := range ws {
			if ws[i], err = impl.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: fmt.Sprintf("spread-%d", i), Term: 1}}); err != nil {
				b.Fatal(err)
			}
			defer ws[i].Close()
		}
		appendTo = func(i int) error {
			_, err := ws[i].Append(ctx, message.NewMutableMessage(payload, props))
			return err
		}
	}
	var rr atomic.Int64
	spread := func() error { return appendTo(int(rr.Add(1)) % channels) }
	single := func() error { return appendTo(channels) }
	const round = 800
	var spreadT, singleT time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		k := min(round, b.N-done)
		d, _ := timedRound(b, conc, k, single)
		singleT += d
		d, _ = timedRound(b, conc, k, spread)
		spreadT += d
	}
	b.StopTimer()
	b.ReportMetric(float64(spreadT.Nanoseconds())/float64(b.N), "spread-ns/append")
	b.ReportMetric(float64(singleT.Nanoseconds())/float64(b.N), "single-ns/append")
	b.ReportMetric(float64(singleT)/float64(spreadT), "throughput-ratio")
}
