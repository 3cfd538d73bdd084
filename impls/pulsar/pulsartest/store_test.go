package pulsartest_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
)

// TestDataDirSurvivesCloseAndTornTail stops a broker, tears the tail of a
// topic file as a crash in the middle of a write would, and starts a new
// broker on the same directory: everything acknowledged is still there,
// cursors and ledger ids carry on.
func TestDataDirSurvivesCloseAndTornTail(t *testing.T) {
	dir := t.TempDir()
	topic := newTopic(t)
	var firstLedger int64
	func() {
		b := startBroker(t, pulsartest.WithDataDir(dir))
		c := newClient(t, b)
		p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
		for i := range 4 {
			id := send(t, p, fmt.Sprintf("m%d", i))
			firstLedger = id.LedgerID()
		}
		cons := subscribe(t, c, topic, "sub", pulsar.Exclusive)
		defer cons.Close()
		for range 2 {
			if err := cons.Ack(receive(t, cons)); err != nil {
				t.Fatalf("ack: %v", err)
			}
		}
		c.Close()
		if err := b.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}()

	path := filepath.Join(dir, "topics", url.PathEscape(topic)+".log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("open topic file: %v", err)
	}
	// A record header promising more bytes than follow.
	if _, err := f.Write([]byte{0, 0, 1, 0, 1, 2, 3, 4, 1, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	b := startBroker(t, pulsartest.WithDataDir(dir))
	c := newClient(t, b)
	if got := b.NumMessages(topic); got != 4 {
		t.Fatalf("after reopening, topic holds %d messages, want 4", got)
	}
	cons := subscribe(t, c, topic, "sub", pulsar.Exclusive)
	if m := receive(t, cons); string(m.Payload()) != "m2" {
		t.Fatalf("durable subscription resumed at %q, want m2", m.Payload())
	}
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	id := send(t, p, "m4")
	if id.LedgerID() <= firstLedger || id.EntryID() != 0 {
		t.Fatalf("id after reopening %v, want entry 0 of a ledger above %d", id, firstLedger)
	}
	// Closed before the restart: a producer or consumer still reconnecting
	// when the test ends keeps a lookup retrying for OperationTimeout.
	cons.Close()
	p.Close()
	// Reload once more: m4 must have been written after the cut, not after
	// the garbage.
	if err := b.Restart(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if got := readAll(t, c, topic, pulsar.EarliestMessageID(), false); fmt.Sprint(got) != "[m0 m1 m2 m3 m4]" {
		t.Fatalf("topic holds %v after the torn tail was cut", got)
	}
}

func TestFailoverSecondConsumerTakesOver(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	first := subscribe(t, c, topic, "sub", pulsar.Failover)
	second := subscribe(t, c, topic, "sub", pulsar.Failover)
	defer second.Close()
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	send(t, p, "a")
	if m := receive(t, first); string(m.Payload()) != "a" {
		t.Fatalf("active consumer got %q", m.Payload())
	}
	expectNoMessage(t, second, 50*time.Millisecond)
	first.Close() // "a" was not acknowledged
	if m := receive(t, second); string(m.Payload()) != "a" {
		t.Fatalf("standby consumer got %q after failover, want a", m.Payload())
	}
}
