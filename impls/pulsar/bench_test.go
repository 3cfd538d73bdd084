package pulsar_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/internal/benchkit"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// One broker for every benchmark of the run, so raw and WAL numbers are
// measured against the same server.
var bench struct {
	once   sync.Once
	broker *pulsartest.Broker
	err    error
	topics atomic.Int64
}

func benchBroker(b *testing.B) *pulsartest.Broker {
	bench.once.Do(func() { bench.broker, bench.err = pulsartest.Start() })
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.broker
}

func closeBenchBroker() {
	if bench.broker != nil {
		_ = bench.broker.Close()
	}
}

func benchChannel() string { return fmt.Sprintf("bench-%d", bench.topics.Add(1)) }

func payload1K() []byte {
	p := make([]byte, 1024)
	_, _ = rand.Read(p)
	return p
}

// parallel runs op b.N times from n goroutines.
func parallel(b *testing.B, n int, op func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	b.ResetTimer()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// rawBenchProducer is configured as the driver's producer (batching off),
// so the ratio shows the driver's own cost.
func rawBenchProducer(b *testing.B, br *pulsartest.Broker) pc.Producer {
	c := rawClient(b, br)
	p, err := c.CreateProducer(pc.ProducerOptions{Topic: topicPrefix + benchChannel(), DisableBatching: true, SendTimeout: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p
}

func benchWAL(b *testing.B, br *pulsartest.Broker) walimpls.WALImpls {
	return openWAL(b, br, benchChannel(), walimpls.ReadWrite)
}

func BenchmarkAppend(b *testing.B) {
	payload := payload1K()
	props := map[string]string{"k": "v"}
	for _, conc := range []int{1, 16} {
		b.Run(fmt.Sprintf("Raw/c=%d", conc), func(b *testing.B) {
			p := rawBenchProducer(b, benchBroker(b))
			b.SetBytes(int64(len(payload)))
			parallel(b, conc, func() error {
				_, err := p.Send(context.Background(), &pc.ProducerMessage{Payload: payload, Properties: props})
				return err
			})
		})
		if conc > 1 {
			// The same load as one SendAsync pipeline with conc messages in flight.
			b.Run(fmt.Sprintf("RawAsync/c=%d", conc), func(b *testing.B) {
				p := rawBenchProducer(b, benchBroker(b))
				b.SetBytes(int64(len(payload)))
				sem := make(chan struct{}, conc)
				var failed atomic.Value
				b.ResetTimer()
				for range b.N {
					sem <- struct{}{}
					p.SendAsync(context.Background(), &pc.ProducerMessage{Payload: payload, Properties: props},
						func(_ pc.MessageID, _ *pc.ProducerMessage, err error) {
							if err != nil {
								failed.Store(err)
							}
							<-sem
						})
				}
				for range conc {
					sem <- struct{}{}
				}
				b.StopTimer()
				if err, _ := failed.Load().(error); err != nil {
					b.Fatal(err)
				}
			})
		}
		b.Run(fmt.Sprintf("WAL/c=%d", conc), func(b *testing.B) {
			w := benchWAL(b, benchBroker(b))
			msg := message.NewMutableMessage(payload, message.Properties(props))
			b.SetBytes(int64(len(payload)))
			parallel(b, conc, func() error {
				_, err := w.Append(context.Background(), msg)
				return err
			})
		})
	}
}

// scanMessages is what BenchmarkScan and BenchmarkScanPaired read per op.
const scanMessages = 2000

// scanFixture fills a fresh channel with scanMessages 1 KiB messages and
// returns one full read through a raw Reader and one through the driver.
func scanFixture(b *testing.B) (raw, wal func()) {
	br := benchBroker(b)
	w := benchWAL(b, br)
	payload := payload1K()
	if _, err := benchkit.Round(16, scanMessages, func() error {
		_, err := w.Append(context.Background(), message.NewMutableMessage(payload, message.Properties{"k": "v"}))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	topic := topicPrefix + w.Channel().Name
	c := rawClient(b, br)
	raw = func() {
		r, err := c.CreateReader(pc.ReaderOptions{Topic: topic, StartMessageID: pc.EarliestMessageID()})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		for range scanMessages {
			if _, err := r.Next(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	wal = func() {
		s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = s.Close() }()
		for range scanMessages {
			if _, ok := <-s.Chan(); !ok {
				b.Fatal(s.Error())
			}
		}
	}
	return raw, wal
}

// BenchmarkScan reads a channel of scanMessages 1 KiB messages from the
// start, per op.
func BenchmarkScan(b *testing.B) {
	raw, wal := scanFixture(b)
	b.Run("Raw", func(b *testing.B) {
		b.SetBytes(scanMessages * 1024)
		for b.Loop() {
			raw()
		}
	})
	b.Run("WAL", func(b *testing.B) {
		b.SetBytes(scanMessages * 1024)
		for b.Loop() {
			wal()
		}
	})
}

// BenchmarkScanPaired alternates full reads through a raw Reader and
// through the driver, so both sides see the same load, and reports the
// ratio (raw time / driver time, in ABBA order: above 1 means the driver is faster).
//
//	go test -run '^$' -bench ScanPaired -benchtime 20x -count 5 ./impls/pulsar/
func BenchmarkScanPaired(b *testing.B) {
	raw, wal := scanFixture(b)
	var rawNs, walNs time.Duration
	timed := func(f func()) time.Duration { start := time.Now(); f(); return time.Since(start) }
	for i := 0; b.Loop(); i++ {
		// ABBA: neither side always runs on what the other just warmed.
		if i%2 == 0 {
			rawNs += timed(raw)
			walNs += timed(wal)
		} else {
			walNs += timed(wal)
			rawNs += timed(raw)
		}
	}
	b.ReportMetric(float64(rawNs.Nanoseconds())/float64(b.N), "raw-ns/scan")
	b.ReportMetric(float64(walNs.Nanoseconds())/float64(b.N), "wal-ns/scan")
	b.ReportMetric(float64(rawNs)/float64(walNs), "wal/raw-throughput")
}

// BenchmarkAppendPaired alternates rounds of raw sends and WAL appends on
// the same broker and reports both costs and their ratio. On a loaded
// machine (shared CI, other tests) paired rounds see the same load, so the
// ratio is steadier than the one of two separately timed benchmarks.
func BenchmarkAppendPaired(b *testing.B) {
	payload := payload1K()
	props := map[string]string{"k": "v"}
	for _, conc := range []int{1, 16} {
		b.Run(fmt.Sprintf("c=%d", conc), func(b *testing.B) {
			br := benchBroker(b)
			p := rawBenchProducer(b, br)
			w := benchWAL(b, br)
			msg := message.NewMutableMessage(payload, message.Properties(props))
			raw := func() error {
				_, err := p.Send(context.Background(), &pc.ProducerMessage{Payload: payload, Properties: props})
				return err
			}
			// What the driver adds to every message (its sequence number and
			// term as properties) costs on a raw producer too: "props" shows
			// how much of the gap that is.
			pp := rawBenchProducer(b, br)
			var seq atomic.Int64
			rawProps := func() error {
				m := map[string]string{"k": "v", pulsar.TermProperty: "1", pulsar.SeqProperty: strconv.FormatInt(seq.Add(1), 10)}
				_, err := pp.Send(context.Background(), &pc.ProducerMessage{Payload: payload, Properties: m})
				return err
			}
			wal := func() error { _, err := w.Append(context.Background(), msg); return err }
			const round = 200
			var rawNs, propsNs, walNs time.Duration
			for range max(b.N/round, 1) {
				rawNs += timeRound(b, conc, round, raw)
				walNs += timeRound(b, conc, round, wal)
				propsNs += timeRound(b, conc, round, rawProps)
			}
			ops := float64(max(b.N/round, 1) * round)
			b.ReportMetric(float64(rawNs.Nanoseconds())/ops, "raw-ns/append")
			b.ReportMetric(float64(walNs.Nanoseconds())/ops, "wal-ns/append")
			b.ReportMetric(float64(rawNs)/float64(walNs), "wal/raw-throughput")
			b.ReportMetric(float64(rawNs)/float64(propsNs), "props/raw-throughput")
		})
	}
}

// timeRound runs op n times from conc goroutines and returns the time taken.
func timeRound(b *testing.B, conc, n int, op func() error) time.Duration {
	d, err := benchkit.Round(conc, n, op)
	if err != nil {
		b.Fatal(err)
	}
	return d
}
