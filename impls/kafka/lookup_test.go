package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// foreign appends n records to topic as another client would: one plain
// (non-idempotent) batch each.
func foreign(t *testing.T, c *kafkatest.Cluster, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.DisableIdempotentWrite(), kgo.MaxBufferedRecords(1), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprint("foreign ", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNewestBatchBehindForeignRecords: a claim behind many records of
// other clients finds the producer's newest batch in a few fetches, not
// one per batch.
func TestNewestBatchBehindForeignRecords(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	ch := channelName(t)
	topic := o.(*opener).topic(ch)
	w := open(t, o, ch, 1, walimpls.ReadWrite)
	mine := mustAppend(t, w, "mine", nil)
	w.Close()
	foreign(t, c, topic, 1000)
	fetches := c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Observe: true, Count: -1})
	defer fetches.Remove()
	// A same-term Open continues the producer's sequence from there.
	w2 := open(t, o, ch, 1, walimpls.ReadWrite)
	if n := fetches.Hits(); n > 12 {
		t.Fatalf("claiming behind 1000 foreign batches took %d fetches", n)
	}
	next := mustAppend(t, w2, "again", nil)
	checkLog(t, w2, []string{"mine", "again"}, map[string]outcome{
		"mine":  {helper.NewInt64ID(Name, mine), nil},
		"again": {helper.NewInt64ID(Name, next), nil},
	})
}

// TestTruncateKeepsAProducerBatchBehindForeignRecords: Truncate up to the
// writer's newest batch keeps a batch of the producer even when foreign
// records follow it, so a same-term Open elsewhere still finds its
// sequence.
func TestTruncateKeepsAProducerBatchBehindForeignRecords(t *testing.T) {
	c := startCluster(t)
	ch := channelName(t)
	o := newOpener(t, c)
	w := open(t, o, ch, 1, walimpls.ReadWrite)
	mustAppend(t, w, "a", nil)
	last := mustAppend(t, w, "b", nil)
	foreign(t, c, o.(*opener).topic(ch), 1)
	if err := w.Truncate(context.Background(), helper.NewInt64ID(Name, last)); err != nil {
		t.Fatal(err)
	}
	w2 := open(t, newOpener(t, c), ch, 1, walimpls.ReadWrite)
	mustAppend(t, w2, "c", nil)
}
