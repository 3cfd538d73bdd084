package pulsar_test

import (
	"context"
	"fmt"
	"github.com/mqwal/mqwal/internal/benchkit"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// Issue 18: what an idle channel costs. Each configuration opens n channels
// on one opener (term 1, ReadWrite), appends one 1 KiB message to each and,
// with scanners, opens a DeliverAll scanner per channel that has read it.
// Heap is HeapInuse after runtime.GC(), goroutines runtime.NumGoroutine(),
// both as the delta over n; the broker is in-process, so its share of each
// channel (topic, subscription, stored messages) counts too.
//
//	go test -run '^$' -bench 'Scale' -benchtime 1x ./impls/pulsar/
//
// MQWAL_PULSAR_SCALE_PROFILE=dir writes heap and goroutine profiles of
// each configuration to dir.

type scaleMode int

const (
	scaleDriver  scaleMode = iota // the bare driver
	scaleAdaptor                  // through adaptor.NewOpener, as applications use it
	scaleRaw                      // plain pulsar-client-go producers with the driver's options: the floor
)

func (m scaleMode) String() string { return [...]string{"driver", "adaptor", "raw"}[m] }

type scaleResult struct {
	heapPerCh       float64 // bytes
	goroutinesPerCh float64
	openPerCh       time.Duration
	openFirstTenth  time.Duration // mean Open of the first tenth of the channels
	openLastTenth   time.Duration // and of the last
	idleCPU         float64       // share of one core, client and broker, while idle (scanners tailing)
	close           time.Duration // closing the opener (or client) with everything open
}

func measureScale(tb testing.TB, mode scaleMode, n int, scanners bool, idleWindow time.Duration) scaleResult {
	tb.Helper()
	br, err := pulsartest.Start(pulsartest.WithKeepAlive(0))
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = br.Close() }()
	payload := make([]byte, 1024)
	prefix := fmt.Sprintf("scale-%s-%d-", mode, n)

	var open func(i int) error
	var closeAll func()
	switch mode {
	case scaleRaw:
		c := rawClient(tb, br)
		prods := make([]pc.Producer, n)
		readers := make([]pc.Reader, 0, n)
		open = func(i int) error {
			p, err := c.CreateProducer(pulsar.ProducerOptions(topicPrefix+prefix+strconv.Itoa(i), pulsar.DefaultMaxInFlight))
			if err != nil {
				return err
			}
			prods[i] = p
			if _, err := p.Send(context.Background(), &pc.ProducerMessage{Payload: payload}); err != nil {
				return err
			}
			if !scanners {
				return nil
			}
			r, err := c.CreateReader(pc.ReaderOptions{Topic: topicPrefix + prefix + strconv.Itoa(i), StartMessageID: pc.EarliestMessageID(), StartMessageIDInclusive: true, ReceiverQueueSize: 64})
			if err != nil {
				return err
			}
			readers = append(readers, r)
			_, err = r.Next(context.Background())
			return err
		}
		closeAll = func() {
			for _, r := range readers {
				r.Close()
			}
			for _, p := range prods {
				if p != nil {
					p.Close()
				}
			}
		}
	case scaleDriver:
		o, err := builder(br).Build()
		if err != nil {
			tb.Fatal(err)
		}
		open = func(i int) error {
			w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: prefix + strconv.Itoa(i), Term: 1, AccessMode: walimpls.ReadWrite}})
			if err != nil {
				return err
			}
			return useChannel(scanners, func() error {
				_, err := w.Append(context.Background(), message.NewMutableMessage(payload, nil))
				return err
			}, func() (<-chan message.ImmutableMessage, func() error, error) {
				s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
				if err != nil {
					return nil, nil, err
				}
				return s.Chan(), s.Error, nil
			})
		}
		closeAll = o.Close
	case scaleAdaptor:
		d, err := builder(br).Build()
		if err != nil {
			tb.Fatal(err)
		}
		o := adaptor.NewOpener(pulsar.Name, d)
		open = func(i int) error {
			w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: prefix + strconv.Itoa(i), Term: 1, AccessMode: wal.ReadWrite}})
			if err != nil {
				return err
			}
			return useChannel(scanners, func() error {
				_, err := w.Append(context.Background(), message.NewMutableMessage(payload, nil))
				return err
			}, func() (<-chan message.ImmutableMessage, func() error, error) {
				s, err := w.Read(context.Background(), wal.ReadOption{DeliverPolicy: wal.DeliverAll()})
				if err != nil {
					return nil, nil, err
				}
				return s.Chan(), s.Error, nil
			})
		}
		closeAll = o.Close
	}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	tenth := max(n/10, 1)
	var res scaleResult
	start := time.Now()
	var firstEnd time.Time
	var lastStart time.Time
	for i := range n {
		if i == n-tenth {
			lastStart = time.Now()
		}
		if err := open(i); err != nil {
			tb.Fatalf("%s channel %d: %v", mode, i, err)
		}
		if i == tenth-1 {
			firstEnd = time.Now()
		}
	}
	end := time.Now()
	res.openPerCh = end.Sub(start) / time.Duration(n)
	res.openFirstTenth = firstEnd.Sub(start) / time.Duration(tenth)
	res.openLastTenth = end.Sub(lastStart) / time.Duration(tenth)
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.heapPerCh = (float64(after.HeapInuse) - float64(before.HeapInuse)) / float64(n)
	res.goroutinesPerCh = float64(runtime.NumGoroutine()-g0) / float64(n)
	if dir := os.Getenv("MQWAL_PULSAR_SCALE_PROFILE"); dir != "" {
		name := fmt.Sprintf("%s/%s-%d-scanners=%v", dir, mode, n, scanners)
		for _, p := range []string{"heap", "goroutine"} {
			f, err := os.Create(name + "." + p)
			if err == nil {
				_ = pprof.Lookup(p).WriteTo(f, 0)
				_ = f.Close()
			}
		}
	}
	if idleWindow > 0 {
		// Idle means past the time after which the driver's tailing
		// scanners park (WithScannerParkAfter); until then each still has
		// its Reader (and the Reader's 100 ms ack ticker), as plain ones do.
		time.Sleep(pulsar.DefaultScannerParkAfter + time.Second) // letting the scanners park: no event marks it
		cpu0 := benchkit.CPUTime()
		t0 := time.Now()
		time.Sleep(idleWindow) // measuring what idleness costs: nothing to wait for
		res.idleCPU = float64(benchkit.CPUTime()-cpu0) / float64(time.Since(t0))
	}
	t0 := time.Now()
	closeAll()
	res.close = time.Since(t0)
	return res
}

// useChannel appends one message and, with scanners, opens a scanner that
// reads it and stays open.
func useChannel(scanners bool, appendOne func() error, read func() (<-chan message.ImmutableMessage, func() error, error)) error {
	if err := appendOne(); err != nil || !scanners {
		return err
	}
	ch, errf, err := read()
	if err != nil {
		return err
	}
	if _, ok := <-ch; !ok {
		return errf()
	}
	return nil
}

func scaleSizes() []int {
	if s := os.Getenv("MQWAL_PULSAR_SCALE_N"); s != "" {
		var ns []int
		for _, f := range splitComma(s) {
			if n, err := strconv.Atoi(f); err == nil && n > 0 {
				ns = append(ns, n)
			}
		}
		return ns
	}
	return []int{100, 1000, 10000}
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// BenchmarkScale reports, per configuration and n, the cost of an idle
// channel: heap and goroutines per channel, Open time per channel (mean,
// and of the first and last tenth), closing everything, and with scanners
// the CPU the idle process (client and in-process broker) uses once the
// driver's scanners have parked.
func BenchmarkScale(b *testing.B) {
	for _, n := range scaleSizes() {
		for _, mode := range []scaleMode{scaleRaw, scaleDriver, scaleAdaptor} {
			for _, scanners := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/n=%d/scanners=%v", mode, n, scanners), func(b *testing.B) {
					var idle time.Duration
					if scanners && n == 1000 {
						idle = 5 * time.Second
					}
					var r scaleResult
					for range b.N {
						r = measureScale(b, mode, n, scanners, idle)
					}
					b.ReportMetric(r.heapPerCh/1024, "heap-KiB/ch")
					b.ReportMetric(r.goroutinesPerCh, "goroutines/ch")
					b.ReportMetric(float64(r.openPerCh.Microseconds())/1000, "open-ms/ch")
					b.ReportMetric(float64(r.openFirstTenth.Microseconds())/1000, "open-first-tenth-ms/ch")
					b.ReportMetric(float64(r.openLastTenth.Microseconds())/1000, "open-last-tenth-ms/ch")
					b.ReportMetric(r.close.Seconds(), "close-s")
					if idle > 0 {
						b.ReportMetric(r.idleCPU*100, "idle-cpu-%")
					}
				})
			}
		}
	}
}

// BenchmarkScaleThroughput compares 16 appenders spread over 1,000
// channels (appender k appends to channels k, k+16, k+32, ... in turn) with
// 16 appenders on one channel, in alternating rounds of 2,000 appends on
// one opener (or client) and broker, and reports both rates and their ratio
// (issue 18: >= 0.8), for the driver and for plain producers with the
// driver's options.
//
//	go test -run '^$' -bench ScaleThroughput -benchtime 20x ./impls/pulsar/
func BenchmarkScaleThroughput(b *testing.B) {
	const channels = 1000
	payload := payload1K()
	b.Run("raw", func(b *testing.B) {
		c := rawClient(b, benchBroker(b))
		prefix := benchChannel() + "-"
		ps := make([]pc.Producer, channels+1)
		for i := range ps {
			var err error
			if ps[i], err = c.CreateProducer(pulsar.ProducerOptions(topicPrefix+prefix+strconv.Itoa(i), pulsar.DefaultMaxInFlight)); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(ps[i].Close)
		}
		spreadVsSingle(b, channels, func(ch int) error {
			_, err := ps[ch].Send(context.Background(), &pc.ProducerMessage{Payload: payload})
			return err
		})
	})
	b.Run("driver", func(b *testing.B) {
		o, err := builder(benchBroker(b)).Build()
		if err != nil {
			b.Fatal(err)
		}
		defer o.Close()
		prefix := benchChannel() + "-"
		ws := make([]walimpls.WALImpls, channels+1)
		for i := range ws {
			if ws[i], err = o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: prefix + strconv.Itoa(i), Term: 1}}); err != nil {
				b.Fatal(err)
			}
		}
		msg := message.NewMutableMessage(payload, nil)
		spreadVsSingle(b, channels, func(ch int) error {
			_, err := ws[ch].Append(context.Background(), msg)
			return err
		})
	})
}

// spreadVsSingle runs b.N pairs of rounds: 16 appenders over channels
// 0..n-1, then 16 appenders on channel n.
func spreadVsSingle(b *testing.B, n int, appendTo func(ch int) error) {
	const appenders, round = 16, 2000
	run := func(pick func(appender, k int) int) time.Duration {
		var wg sync.WaitGroup
		errs := make(chan error, appenders)
		start := time.Now()
		for a := range appenders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range round / appenders {
					if err := appendTo(pick(a, k)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var spread, single time.Duration
	b.ResetTimer()
	for range b.N {
		spread += run(func(a, k int) int { return (a + k*appenders) % n })
		single += run(func(int, int) int { return n })
	}
	b.StopTimer()
	ops := float64(b.N * round)
	b.ReportMetric(ops/spread.Seconds(), "spread-appends/s")
	b.ReportMetric(ops/single.Seconds(), "single-appends/s")
	b.ReportMetric(float64(single)/float64(spread), "spread/single")
}
