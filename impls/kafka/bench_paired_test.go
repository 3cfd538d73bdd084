package kafka

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// BenchmarkAppendPaired interleaves the driver and its baseline in short
// rounds within one benchmark, so load drifting on a shared machine hits
// both alike; it reports each side's time per append and p50, and
// throughput-ratio = baseline time / driver time (>= 1: the driver is at
// least as fast). c1 compares with segmentio Client.Produce (one request
// per message), c16 with franz-go kgo ProduceSync without compression (the
// driver sends uncompressed batches; kgo's default snappy spends CPU on
// random payloads that do not compress, which tilted the ratio toward the
// driver); c1-kgo is the same kgo client at concurrency 1; c1-floor puts the
// driver's idempotent batches sent by hand in the driver's place, to show
// how much of the c1 gap is idempotence rather than the pipeline; c1-timeout
// gives the raw client the driver's request timeout (kafka-go then sets a
// connection deadline per request, as any client that must not hang
// forever on a silent broker does), to show what that bound costs.
//
//	go test -run '^$' -bench AppendPaired -benchtime 20000x -count 5 ./impls/kafka/
func BenchmarkAppendPaired(b *testing.B) {
	c := benchCluster(b)
	payload := benchPayload()
	props := message.Properties{"k": "v"}
	for _, name := range []string{"c1", "c16", "c1-kgo", "c1-floor", "c1-timeout"} {
		conc := 1
		if name == "c16" {
			conc = 16
		}
		b.Run(name, func(b *testing.B) {
			walTopic, rawTopic := newBenchTopic(b, c), newBenchTopic(b, c)
			w, closeWAL := benchWAL(b, c, walimpls.Channel{Name: walTopic, Term: 1})
			defer closeWAL()
			walOp := func() error {
				_, err := w.Append(context.Background(), message.NewMutableMessage(payload, props))
				return err
			}
			if name == "c1-floor" {
				// In place of the driver: its idempotent batches straight
				// through Client.RawProduce, no pipeline. The gap between
				// this and c1 is what the pipeline costs.
				kc, done := rawClient(c)
				defer done()
				floorTopic := newBenchTopic(b, c)
				ps := producerState{id: producerID(floorTopic), epoch: 1}
				body := encodeRecordBody(nil, payload, props)
				walOp = func() error {
					batch := frameBatch(ps, time.Now().UnixMilli(), [][]byte{body})
					ps.sequence++
					resp, err := kc.RawProduce(context.Background(), &kafkago.RawProduceRequest{
						Topic: floorTopic, RequiredAcks: kafkago.RequireAll,
						RawRecords: protocol.RawRecordSet{Reader: bytes.NewReader(batch)},
					})
					if err == nil && resp.Error != nil {
						err = resp.Error
					}
					return err
				}
			}
			var rawOp func() error
			if name != "c16" && name != "c1-kgo" {
				kc, done := rawClient(c)
				defer done()
				if name == "c1-timeout" {
					kc.Timeout = DefaultRequestTimeout
				}
				rawOp = func() error {
					resp, err := kc.Produce(context.Background(), &kafkago.ProduceRequest{
						Topic: rawTopic, Partition: 0, RequiredAcks: kafkago.RequireAll,
						Records: kafkago.NewRecordReader(kafkago.Record{Value: kafkago.NewBytes(payload), Headers: []kafkago.Header{{Key: "k", Value: []byte("v")}}}),
					})
					if err == nil && resp.Error != nil {
						err = resp.Error
					}
					return err
				}
			} else {
				cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.DefaultProduceTopic(rawTopic), kgo.ProducerBatchCompression(kgo.NoCompression()))
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				rawOp = func() error {
					return cl.ProduceSync(context.Background(), &kgo.Record{Value: payload, Headers: []kgo.RecordHeader{{Key: "k", Value: []byte("v")}}}).FirstErr()
				}
			}
			const round = 400
			var walT, rawT time.Duration
			var walLat, rawLat []time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; done += round {
				n := min(round, b.N-done)
				d, lat := timedRound(b, conc, n, walOp)
				walT += d
				walLat = append(walLat, lat...)
				d, lat = timedRound(b, conc, n, rawOp)
				rawT += d
				rawLat = append(rawLat, lat...)
			}
			b.StopTimer()
			slices.Sort(walLat)
			slices.Sort(rawLat)
			b.ReportMetric(float64(walT.Nanoseconds())/float64(b.N), "wal-ns/append")
			b.ReportMetric(float64(rawT.Nanoseconds())/float64(b.N), "base-ns/append")
			b.ReportMetric(float64(rawT)/float64(walT), "throughput-ratio")
			b.ReportMetric(float64(walLat[len(walLat)/2].Nanoseconds()), "wal-p50-ns")
			b.ReportMetric(float64(rawLat[len(rawLat)/2].Nanoseconds()), "base-p50-ns")
		})
	}
}

// timedRound runs op n times over conc goroutines; it returns the wall time
// and each op's latency.
func timedRound(b *testing.B, conc, n int, op func() error) (time.Duration, []time.Duration) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Value
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				if err := op(); err != nil {
					failed.Store(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	return d, lat
}

// BenchmarkScanPaired alternates one full scan of scanRecords records by
// the driver with one by raw Conn.ReadBatch; one op is one message per
// side, throughput-ratio = raw time / driver time.
//
//	go test -run '^$' -bench ScanPaired -benchtime 200000x -count 5 ./impls/kafka/
func BenchmarkScanPaired(b *testing.B) {
	c := benchCluster(b)
	topic := fillTopic(b, c, scanRecords)
	w, closeWAL := benchWAL(b, c, walimpls.Channel{Name: topic, AccessMode: walimpls.ReadOnly})
	defer closeWAL()
	walScan := func(n int) {
		s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll(), ReadAheadBufferSize: 1024})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		for range n {
			if _, ok := <-s.Chan(); !ok {
				b.Fatal(s.Error())
			}
		}
	}
	rawScan := func(n int) {
		conn, err := kafkago.DialLeader(context.Background(), "tcp", c.Addrs()[0], topic, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		for n > 0 {
			batch := conn.ReadBatchWith(kafkago.ReadBatchConfig{MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: pollWait})
			for n > 0 {
				m, err := batch.ReadMessage()
				if err != nil {
					break
				}
				if len(m.Headers) > 0 && m.Headers[0].Key == fenceHeader {
					continue
				}
				n--
			}
			if err := batch.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	var walT, rawT time.Duration
	b.SetBytes(benchRecord)
	b.ResetTimer()
	for left := b.N; left > 0; {
		n := min(left, scanRecords)
		t0 := time.Now()
		walScan(n)
		walT += time.Since(t0)
		t0 = time.Now()
		rawScan(n)
		rawT += time.Since(t0)
		left -= n
	}
	b.StopTimer()
	b.ReportMetric(float64(walT.Nanoseconds())/float64(b.N), "wal-ns/msg")
	b.ReportMetric(float64(rawT.Nanoseconds())/float64(b.N), "base-ns/msg")
	b.ReportMetric(float64(rawT)/float64(walT), "throughput-ratio")
}
