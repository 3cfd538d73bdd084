package adaptor_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/kafka"
	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
)

// kgoForeignAppend produces records with franz-go, another client of the
// cluster, to the topic of a channel (the driver's default prefix is "").
func kgoForeignAppend(t *testing.T, c *kafkatest.Cluster) func(ctx context.Context, channel string, payload []byte) error {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return func(ctx context.Context, channel string, payload []byte) error {
		return cl.ProduceSync(ctx, &kgo.Record{Topic: channel, Value: payload}).FirstErr()
	}
}

// The Kafka case of TestForeignRecordsReachTheWritersScanner, with the
// adaptor's defaults (before, the write-ahead cache was on for Kafka, which
// fences, and the writer's scanner delivered m1, m2, m3 of m1, f1, m2, f2,
// m3) and kgo producing the foreign records.
func TestForeignKafkaRecordsReachTheWritersScanner(t *testing.T) {
	c, err := kafkatest.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	impl, err := kafka.NewBuilder(kafka.WithBrokers(c.Addrs()...)).Build()
	if err != nil {
		t.Fatal(err)
	}
	fo := newFaultyOpener(impl, faults{}, 1)
	o := adaptor.NewOpener(kafka.Name, fo, adaptor.WithIdleRecheck(time.Hour))
	t.Cleanup(o.Close)
	interleaveForeign(t, o, fo, kgoForeignAppend(t, c))
}
