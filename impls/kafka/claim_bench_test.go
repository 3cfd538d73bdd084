package kafka

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/walimpls"
)

// foreignBatches is how many one-record batches of another client follow
// the channel producer's newest batch in BenchmarkClaimBehindForeignRecords.
const foreignBatches = 100_000

// BenchmarkClaimBehindForeignRecords measures what a ReadWrite Open costs
// when the channel's producer wrote last foreignBatches batches ago: ns/op
// is the lookup of the producer's newest batch (all an Open reads of the
// log), fetches/op its fetch requests; first-claim-ms and
// same-term-reopen-ms time one real Open of each kind (Open then writes a
// fence, so only the first Open of a channel is behind the foreign
// records). Target: well under 1 s.
//
//	go test -run '^$' -bench ClaimBehindForeignRecords -benchtime 5x -count 3 ./impls/kafka/
func BenchmarkClaimBehindForeignRecords(b *testing.B) {
	c := benchCluster(b)
	o, err := NewBuilder(WithBrokers(c.Addrs()...)).Build()
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	op := o.(*opener)
	ctx := context.Background()
	behind := func() string {
		ch := fmt.Sprintf("claim-bench-%d", benchTopicSeq.Add(1))
		w, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}})
		if err != nil {
			b.Fatal(err)
		}
		mustAppend(b, w, "mine", nil)
		w.Close()
		foreignConcurrently(b, c, op.topic(ch), foreignBatches)
		return ch
	}
	first, reopen := behind(), behind()

	topic := op.topic(first)
	fetches := c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Observe: true, Count: -1})
	defer fetches.Remove()
	b.ResetTimer()
	for range b.N {
		lo, end, err := op.client.offsets(ctx, topic)
		if err != nil {
			b.Fatal(err)
		}
		if _, found, err := op.client.newestBatchOf(ctx, topic, producerID(topic), lo, end); err != nil || !found {
			b.Fatalf("lookup: found %v: %v", found, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(fetches.Hits())/float64(b.N), "fetches/op")

	for _, tc := range []struct {
		metric string
		ch     string
		term   int64
	}{{"first-claim-ms", first, 2}, {"same-term-reopen-ms", reopen, 1}} {
		start := time.Now()
		w, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: tc.ch, Term: tc.term}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, tc.metric)
		w.Close()
	}
}

// foreignConcurrently appends n one-record batches to topic from several
// plain (non-idempotent) kgo clients at once.
func foreignConcurrently(b *testing.B, c *kafkatest.Cluster, topic string, n int) {
	b.Helper()
	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.DefaultProduceTopic(topic), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0))
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			for j := i; j < n; j += clients {
				if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte(fmt.Sprint("foreign ", j))}).FirstErr(); err != nil {
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
}
