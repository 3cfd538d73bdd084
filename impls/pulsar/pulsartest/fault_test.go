package pulsartest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
)

// TestNoAckedMessageLost sends and consumes across a broker fault and checks
// that every message whose send succeeded is delivered, and that an
// acknowledged message does not come back.
func TestNoAckedMessageLost(t *testing.T) {
	faults := map[string]func(t *testing.T, b *pulsartest.Broker){
		"restart": func(t *testing.T, b *pulsartest.Broker) {
			if err := b.Restart(); err != nil {
				t.Fatalf("restart: %v", err)
			}
		},
		"drop connections": func(t *testing.T, b *pulsartest.Broker) { b.DropConnections() },
	}
	for name, fault := range faults {
		for _, disk := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/disk=%v", name, disk), func(t *testing.T) {
				var opts []pulsartest.Option
				if disk {
					opts = append(opts, pulsartest.WithDataDir(t.TempDir()))
				}
				b := startBroker(t, append(opts, pulsartest.WithDeduplication(true))...)
				c := newClient(t, b)
				topic := newTopic(t)
				// Keep what the subscription acknowledged, so the end can
				// check that nothing was stored twice.
				if err := b.SetPolicies("public/default", pulsartest.Policies{Retention: &pulsartest.Retention{TimeInMinutes: -1, SizeInMB: -1}}); err != nil {
					t.Fatal(err)
				}
				p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Name: "writer", DisableBatching: true})
				cons := subscribe(t, c, topic, "sub", pulsar.Exclusive)
				defer cons.Close()

				var before []pulsar.MessageID
				for i := range 5 {
					before = append(before, send(t, p, fmt.Sprintf("m%d", i)))
				}
				for i := range 3 {
					m := receive(t, cons)
					if string(m.Payload()) != fmt.Sprintf("m%d", i) {
						t.Fatalf("got %q before the fault, want m%d", m.Payload(), i)
					}
					if err := cons.Ack(m); err != nil {
						t.Fatalf("ack: %v", err)
					}
				}

				// m5 is stored but its receipt held when the fault hits, so
				// the producer resends it from its reconnect; deduplication
				// keeps it single. Sending only after m5 completes also keeps
				// the test clear of a data race in pulsar-client-go between a
				// producer's reconnect and a concurrent Send.
				b.PauseReceipts()
				m5 := make(chan error, 1)
				p.SendAsync(ctxTimeout(t), &pulsar.ProducerMessage{Payload: []byte("m5")},
					func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { m5 <- err })
				waitFor(t, "m5 stored", func() bool { return b.NumMessages(topic) == 6 })
				fault(t, b)
				b.ResumeReceipts()
				if err := <-m5; err != nil {
					t.Fatalf("send m5 across the fault: %v", err)
				}

				var after []pulsar.MessageID
				for i := 6; i < 10; i++ {
					after = append(after, send(t, p, fmt.Sprintf("m%d", i)))
				}
				if name == "restart" {
					if after[0].LedgerID() <= before[0].LedgerID() || after[0].EntryID() != 0 {
						t.Fatalf("first id after restart %v, want a new ledger above %v at entry 0", after[0], before[0])
					}
				}
				// m3 and m4 were unacknowledged (m3 maybe not even delivered);
				// each of m3..m9 must arrive, m0..m2 must not.
				seen := map[string]bool{}
				for len(seen) < 7 {
					m := receive(t, cons)
					s := string(m.Payload())
					if s == "m0" || s == "m1" || s == "m2" {
						t.Fatalf("acknowledged %s delivered again", s)
					}
					seen[s] = true
					if err := cons.Ack(m); err != nil {
						t.Fatalf("ack: %v", err)
					}
				}
				for i := 3; i < 10; i++ {
					if !seen[fmt.Sprintf("m%d", i)] {
						t.Fatalf("m%d lost; got %v", i, seen)
					}
				}
				if got := readAll(t, c, topic, pulsar.EarliestMessageID(), false); len(got) != 10 {
					t.Fatalf("topic holds %v, want m0..m9 once each", got)
				}
			})
		}
	}
}

func TestDeduplication(t *testing.T) {
	for _, dedup := range []bool{false, true} {
		t.Run(fmt.Sprintf("dedup=%v", dedup), func(t *testing.T) {
			b := startBroker(t, pulsartest.WithDeduplication(dedup))
			c := newClient(t, b)
			topic := newTopic(t)
			p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Name: "writer", DisableBatching: true})
			send(t, p, "a")
			// The broker stores "b", then drops the connection instead of the
			// receipt; the client resends "b" with the same sequence id.
			b.DropNextReceipt(topic)
			send(t, p, "b")
			send(t, p, "c")
			want := []string{"a", "b", "c"}
			if !dedup {
				want = []string{"a", "b", "b", "c"}
			}
			got := readAll(t, c, topic, pulsar.EarliestMessageID(), false)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("topic holds %v, want %v", got, want)
			}
			if n := b.NumMessages(topic); n != len(want) {
				t.Fatalf("NumMessages = %d, want %d", n, len(want))
			}
		})
	}
}

func TestDeduplicationLastSequenceID(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, pulsartest.WithDeduplication(true), pulsartest.WithDataDir(dir))
	c := newClient(t, b)
	topic := newTopic(t)
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Name: "writer", DisableBatching: true})
	for i := range 3 {
		send(t, p, fmt.Sprint(i))
	}
	p.Close()
	if err := b.Restart(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	// The new producer continues after last_sequence_id 2. Had the broker
	// forgotten it, the client would start at 0 and this would be dropped
	// as a duplicate.
	p = newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Name: "writer", DisableBatching: true})
	if id := send(t, p, "new"); id.EntryID() != 0 {
		t.Fatalf("first send after restart got id %v, want entry 0 of a new ledger", id)
	}
	if n := b.NumMessages(topic); n != 4 {
		t.Fatalf("NumMessages = %d, want 4", n)
	}
	// A resend of sequence id 1 is a duplicate: acknowledged, not stored.
	id, err := p.Send(ctxTimeout(t), &pulsar.ProducerMessage{Payload: []byte("dup"), SequenceID: ptr(int64(1))})
	if err != nil {
		t.Fatalf("send duplicate: %v", err)
	}
	if id.LedgerID() != -1 || id.EntryID() != -1 {
		t.Fatalf("duplicate got id %v, want -1:-1", id)
	}
	if n := b.NumMessages(topic); n != 4 {
		t.Fatalf("NumMessages = %d after a duplicate, want 4", n)
	}
}

func ptr[T any](v T) *T { return &v }

func TestMaxMessageSize(t *testing.T) {
	b := startBroker(t, pulsartest.WithMaxMessageSize(4096))
	c := newClient(t, b)
	topic := newTopic(t)
	for _, batching := range []bool{false, true} {
		p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: !batching})
		_, err := p.Send(ctxTimeout(t), &pulsar.ProducerMessage{Payload: make([]byte, 8192)})
		if !errors.Is(err, pulsar.ErrMessageTooLarge) {
			t.Fatalf("batching=%v: oversize send: err %v, want ErrMessageTooLarge", batching, err)
		}
		send(t, p, strings.Repeat("x", 1024))
	}
}

func TestPauseDelivery(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	cons := subscribe(t, c, topic, "sub", pulsar.Shared)
	defer cons.Close()
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	b.PauseDelivery()
	send(t, p, "held")
	expectNoMessage(t, cons, 100*time.Millisecond)
	b.ResumeDelivery()
	if m := receive(t, cons); string(m.Payload()) != "held" {
		t.Fatalf("after resume got %q, want held", m.Payload())
	}
}
