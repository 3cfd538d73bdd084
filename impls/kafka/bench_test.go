package kafka

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// Benchmarks: the driver beside the raw clients it competes with, against
// one in-memory kfake broker per top-level run, 1 KiB random records with
// one header. Sub-benchmarks alternate under -count, so compare them
// within one run (ratio of ns/op, or benchstat on the sub-benchmark names):
//
//	go test -run '^$' -bench . -benchtime 3000x -count 5 ./impls/kafka/
//
// Append/c1/wal vs Append/c1/raw-client-produce (throughput and p50-ns),
// Append/c16/wal vs Append/c16/kgo-produce-sync, Scan/wal vs
// Scan/raw-conn-readbatch (one op = one message; use -benchtime 100000x
// for those), and KafkaWriterSync (ns/write) for what a synchronous
// kafka.Writer write costs.

const benchRecord = 1 << 10

var benchTopicSeq atomic.Int64

func benchCluster(b *testing.B) *kafkatest.Cluster {
	b.Helper()
	c, err := kafkatest.Start(context.Background(), kafkatest.WithInMemory())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

func benchPayload() []byte {
	p := make([]byte, benchRecord)
	_, _ = rand.Read(p)
	return p
}

// rawClient is a segmentio Client on its own Transport.
func rawClient(c *kafkatest.Cluster) (*kafkago.Client, func()) {
	tr := &kafkago.Transport{}
	return &kafkago.Client{Addr: kafkago.TCP(c.Addrs()...), Transport: tr}, tr.CloseIdleConnections
}

// newBenchTopic creates a fresh one-partition topic and deletes it when
// the (sub-)benchmark round ends: kfake keeps records in memory.
func newBenchTopic(b *testing.B, c *kafkatest.Cluster) string {
	b.Helper()
	topic := fmt.Sprintf("bench-%d", benchTopicSeq.Add(1))
	kc, done := rawClient(c)
	defer done()
	resp, err := kc.CreateTopics(context.Background(), &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: walTopicConfigs}}})
	if err != nil || resp.Errors[topic] != nil {
		b.Fatalf("create %s: %v %v", topic, err, resp)
	}
	b.Cleanup(func() {
		kc, done := rawClient(c)
		defer done()
		_, _ = kc.DeleteTopics(context.Background(), &kafkago.DeleteTopicsRequest{Topics: []string{topic}})
	})
	return topic
}

// runConcurrent runs op b.N times spread over conc goroutines and reports
// the median latency of one op.
func runConcurrent(b *testing.B, conc int, op func() error) {
	b.Helper()
	lat := make([][]time.Duration, conc)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.SetBytes(benchRecord)
	b.ResetTimer()
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := op(); err != nil {
					failed.Store(err)
					return
				}
				lat[g] = append(lat[g], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Nanoseconds()), "p50-ns")
	}
}

func BenchmarkAppend(b *testing.B) {
	c := benchCluster(b)
	payload := benchPayload()
	props := message.Properties{"k": "v"}
	for _, conc := range []int{1, 16} {
		b.Run(fmt.Sprintf("c%d/wal", conc), func(b *testing.B) {
			topic := newBenchTopic(b, c)
			w, closeWAL := benchWAL(b, c, walimpls.Channel{Name: topic, Term: 1})
			defer closeWAL()
			runConcurrent(b, conc, func() error {
				_, err := w.Append(context.Background(), message.NewMutableMessage(payload, props))
				return err
			})
		})
		b.Run(fmt.Sprintf("c%d/raw-client-produce", conc), func(b *testing.B) {
			topic := newBenchTopic(b, c)
			kc, done := rawClient(c)
			defer done()
			runConcurrent(b, conc, func() error {
				resp, err := kc.Produce(context.Background(), &kafkago.ProduceRequest{
					Topic: topic, Partition: 0, RequiredAcks: kafkago.RequireAll,
					Records: kafkago.NewRecordReader(kafkago.Record{Value: kafkago.NewBytes(payload), Headers: []kafkago.Header{{Key: "k", Value: []byte("v")}}}),
				})
				if err == nil && resp.Error != nil {
					err = resp.Error
				}
				return err
			})
		})
		b.Run(fmt.Sprintf("c%d/kgo-produce-sync", conc), func(b *testing.B) {
			topic := newBenchTopic(b, c)
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			runConcurrent(b, conc, func() error {
				return cl.ProduceSync(context.Background(), &kgo.Record{Value: payload, Headers: []kgo.RecordHeader{{Key: "k", Value: []byte("v")}}}).FirstErr()
			})
		})
	}
	// The driver's floor: its own idempotent batches straight through
	// Client.RawProduce, one per op, no pipeline.
	b.Run("c1/raw-idempotent-rawproduce", func(b *testing.B) {
		topic := newBenchTopic(b, c)
		kc, done := rawClient(c)
		defer done()
		ps := producerState{id: producerID(topic), epoch: 1}
		body := encodeRecordBody(nil, payload, props)
		runConcurrent(b, 1, func() error {
			batch := frameBatch(ps, time.Now().UnixMilli(), [][]byte{body})
			ps.sequence++
			resp, err := kc.RawProduce(context.Background(), &kafkago.RawProduceRequest{
				Topic: topic, RequiredAcks: kafkago.RequireAll,
				RawRecords: protocol.RawRecordSet{Reader: bytes.NewReader(batch)},
			})
			if err == nil && resp.Error != nil {
				err = resp.Error
			}
			return err
		})
	})
}

// BenchmarkKafkaWriterSync is one synchronous kafka.Writer write with its
// defaults: BatchTimeout (1s) dominates, which is why the driver does not
// use it. At most 3 writes run whatever b.N is; ns/write is the cost.
func BenchmarkKafkaWriterSync(b *testing.B) {
	c := benchCluster(b)
	topic := newBenchTopic(b, c)
	payload := benchPayload()
	w := &kafkago.Writer{Addr: kafkago.TCP(c.Addrs()...), Topic: topic, RequiredAcks: kafkago.RequireAll}
	defer w.Close()
	n := min(b.N, 3)
	start := time.Now()
	for range n {
		if err := w.WriteMessages(context.Background(), kafkago.Message{Value: payload}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(n), "ns/write")
}

const scanRecords = 20000

// fillTopic writes n 1 KiB records through the driver and returns the topic.
func fillTopic(b *testing.B, c *kafkatest.Cluster, n int) string {
	b.Helper()
	topic := newBenchTopic(b, c)
	w, closeWAL := benchWAL(b, c, walimpls.Channel{Name: topic, Term: 1})
	defer closeWAL()
	payload := benchPayload()
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 32 {
				if _, err := w.Append(context.Background(), message.NewMutableMessage(payload, message.Properties{"k": "v"})); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return topic
}

// BenchmarkScan reads b.N messages (one op = one message) from a topic of
// scanRecords 1 KiB records, starting a new scan from the beginning each
// time one reaches the end.
func BenchmarkScan(b *testing.B) {
	c := benchCluster(b)
	topic := fillTopic(b, c, scanRecords)
	b.Run("wal", func(b *testing.B) {
		w, closeWAL := benchWAL(b, c, walimpls.Channel{Name: topic, AccessMode: walimpls.ReadOnly})
		defer closeWAL()
		b.SetBytes(benchRecord)
		b.ResetTimer()
		for left := b.N; left > 0; {
			s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll(), ReadAheadBufferSize: 1024})
			if err != nil {
				b.Fatal(err)
			}
			for n := min(left, scanRecords); n > 0; n-- {
				if _, ok := <-s.Chan(); !ok {
					b.Fatal(s.Error())
				}
				left--
			}
			s.Close()
		}
	})
	b.Run("raw-conn-readbatch", func(b *testing.B) {
		b.SetBytes(benchRecord)
		for left := b.N; left > 0; {
			conn, err := kafkago.DialLeader(context.Background(), "tcp", c.Addrs()[0], topic, 0)
			if err != nil {
				b.Fatal(err)
			}
			for n := min(left, scanRecords); n > 0; {
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
					left--
				}
				if err := batch.Close(); err != nil {
					b.Fatal(err)
				}
			}
			conn.Close()
		}
	})
}

// benchWAL opens ch through a new opener on c; closeWAL closes both.
func benchWAL(b *testing.B, c *kafkatest.Cluster, ch walimpls.Channel) (w walimpls.WALImpls, closeWAL func()) {
	b.Helper()
	o, err := NewBuilder(WithBrokers(c.Addrs()...)).Build()
	if err != nil {
		b.Fatal(err)
	}
	w, err = o.Open(context.Background(), &walimpls.OpenOption{Channel: ch})
	if err != nil {
		o.Close()
		b.Fatal(err)
	}
	return w, func() { w.Close(); o.Close() }
}
