package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// alwaysReverify is an opener whose writers check ownership from the log
// before every batch: its producer expiry is so short that every writer
// counts as idle.
func alwaysReverify(t *testing.T, c *kafkatest.Cluster) walimpls.OpenerImpls {
	return newOpener(t, c, WithConfig(Config{Brokers: c.Addrs(), ProducerIDExpiration: 1}))
}

// TestZombieAfterProducerExpiryIsRefused: once the broker forgot the
// channel's producer, it no longer refuses a lower epoch, nor a same-term
// writer that another Open superseded; the writer's own check from the log
// must. No reader may see the zombie's record after the newer claim.
func TestZombieAfterProducerExpiryIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name                string
		zombieTerm, ownTerm int64
	}{
		{"lower term", 3, 4},
		{"same term", 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t)
			ch := channelName(t)
			zombie := open(t, alwaysReverify(t, c), ch, tc.zombieTerm, walimpls.ReadWrite)
			mustAppend(t, zombie, "first", nil)
			owner := open(t, newOpener(t, c), ch, tc.ownTerm, walimpls.ReadWrite)
			mustAppend(t, owner, "second", nil)
			if err := c.ForgetProducers(context.Background()); err != nil {
				t.Fatal(err)
			}
			_, err := zombie.Append(context.Background(), message.NewMutableMessage([]byte("zombie"), nil))
			if !errors.Is(err, walimpls.ErrFenced) || errors.Is(err, walimpls.ErrOutcomeUnknown) {
				t.Fatalf("append by the superseded writer after the broker forgot the producer: %v, want ErrFenced (not stored)", err)
			}
			// The owner goes on: a broker takes any sequence from a
			// producer it does not know.
			last := mustAppend(t, owner, "third", nil)
			checkLog(t, owner, []string{"first", "second", "third"}, map[string]outcome{"third": {helper.NewInt64ID(Name, last), nil}, "zombie": {nil, err}})
		})
	}
}

// TestOwnershipCheckOnlyWhenIdle: a writer that appends within the
// expiry margin sends nothing but its batches; one idle past it reads the
// log first.
func TestOwnershipCheckOnlyWhenIdle(t *testing.T) {
	c := startCluster(t)
	ch := channelName(t)
	busy := open(t, newOpener(t, c), ch, 1, walimpls.ReadWrite)
	fetches := c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Observe: true, Count: -1})
	defer fetches.Remove()
	for range 50 {
		mustAppend(t, busy, "x", nil)
	}
	if n := fetches.Hits(); n != 0 {
		t.Fatalf("a busy writer fetched %d times while appending, want 0", n)
	}
	busy.Close()
	idle := open(t, alwaysReverify(t, c), ch, 1, walimpls.ReadWrite)
	before := fetches.Hits()
	mustAppend(t, idle, "y", nil)
	if fetches.Hits() == before {
		t.Fatal("a writer past its expiry margin appended without checking the log")
	}
}

// TestStoredBatchFoundByOwnershipCheckIsNotResent: a batch whose answer was
// lost and that an ownership check then finds in the log is acknowledged
// from there. Resending it could store it twice on a broker that forgot
// the producer.
func TestStoredBatchFoundByOwnershipCheckIsNotResent(t *testing.T) {
	c := startCluster(t)
	w := open(t, alwaysReverify(t, c), channelName(t), 1, walimpls.ReadWrite)
	mustAppend(t, w, "before", nil)
	produces := c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Observe: true, Count: -1})
	defer produces.Remove()
	if err := c.DropNextResponse(kmsg.Produce, 1); err != nil {
		t.Fatal(err)
	}
	id := mustAppend(t, w, "lost answer", nil)
	if n := produces.Hits(); n != 1 {
		t.Fatalf("the batch was sent %d times, want once", n)
	}
	checkLog(t, w, []string{"before", "lost answer"}, map[string]outcome{"lost answer": {helper.NewInt64ID(Name, id), nil}})
}

// TestReverifyMargin: writers re-check ownership after half the producer
// expiry: the configured one, else the broker's, else the default.
func TestReverifyMargin(t *testing.T) {
	c := startCluster(t)
	if got := newOpener(t, c).(*opener).reverify; got != DefaultProducerIDExpiration/2 {
		t.Errorf("without producer.id.expiration.ms from the broker: margin %v, want %v", got, DefaultProducerIDExpiration/2)
	}
	if got := newOpener(t, c, WithConfig(Config{Brokers: c.Addrs(), ProducerIDExpiration: 10 * time.Minute})).(*opener).reverify; got != 5*time.Minute {
		t.Errorf("with Config.ProducerIDExpiration 10m: margin %v, want 5m", got)
	}
	b := startCluster(t, kafkatest.WithBrokerConfigs(map[string]string{"producer.id.expiration.ms": "60000"}))
	if got := newOpener(t, b).(*opener).reverify; got != 30*time.Second {
		t.Errorf("with the broker's producer.id.expiration.ms 60000: margin %v, want 30s", got)
	}
}
