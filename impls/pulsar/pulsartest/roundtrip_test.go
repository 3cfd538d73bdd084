package pulsartest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
)

func TestRoundTripWithProperties(t *testing.T) {
	for _, batching := range []bool{false, true} {
		t.Run(fmt.Sprintf("batching=%v", batching), func(t *testing.T) {
			b := startBroker(t)
			c := newClient(t, b)
			topic := newTopic(t)
			cons, err := c.Subscribe(pulsar.ConsumerOptions{
				Topic: topic, SubscriptionName: "sub", Type: pulsar.Exclusive,
			})
			if err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			defer cons.Close()
			p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: !batching})

			const n = 20
			ids := make([]pulsar.MessageID, n)
			for i := range n {
				id, err := p.Send(ctxTimeout(t), &pulsar.ProducerMessage{
					Payload:    []byte(fmt.Sprintf("m%d", i)),
					Key:        fmt.Sprintf("k%d", i),
					Properties: map[string]string{"i": fmt.Sprint(i), "kind": "test"},
				})
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				ids[i] = id
			}
			for i := range n {
				m := receive(t, cons)
				if got, want := string(m.Payload()), fmt.Sprintf("m%d", i); got != want {
					t.Fatalf("message %d: payload %q, want %q", i, got, want)
				}
				if m.Properties()["i"] != fmt.Sprint(i) || m.Properties()["kind"] != "test" {
					t.Fatalf("message %d: properties %v", i, m.Properties())
				}
				if m.Key() != fmt.Sprintf("k%d", i) {
					t.Fatalf("message %d: key %q", i, m.Key())
				}
				if !sameID(m.ID(), ids[i]) {
					t.Fatalf("message %d: id %v, send returned %v", i, m.ID(), ids[i])
				}
				if err := cons.Ack(m); err != nil {
					t.Fatalf("ack: %v", err)
				}
			}
			if got := b.NumMessages(topic); got != n {
				t.Fatalf("broker holds %d messages, want %d", got, n)
			}
		})
	}
}

func TestBatchIDs(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic})
	ids := sendBatch(t, p, "a", "b", "c")
	for i, id := range ids {
		if id.BatchIdx() != int32(i) || id.EntryID() != ids[0].EntryID() || id.LedgerID() != ids[0].LedgerID() {
			t.Fatalf("id %d = %v, want batch index %d in entry of %v", i, id, i, ids[0])
		}
	}
	if ids[0].EntryID() != 0 {
		t.Fatalf("first entry of a new ledger is %d, want 0", ids[0].EntryID())
	}
	r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatalf("reader: %v", err)
	}
	defer r.Close()
	for i, want := range []string{"a", "b", "c"} {
		m := readNext(t, r)
		if string(m.Payload()) != want || !sameID(m.ID(), ids[i]) {
			t.Fatalf("read %q %v, want %q %v", m.Payload(), m.ID(), want, ids[i])
		}
	}
	if r.HasNext() {
		t.Fatal("HasNext after the last message of a batch")
	}
}

func TestChunkedMessage(t *testing.T) {
	b := startBroker(t, pulsartest.WithDeduplication(true))
	c := newClient(t, b)
	topic := newTopic(t)
	cons, err := c.Subscribe(pulsar.ConsumerOptions{
		Topic: topic, SubscriptionName: "sub", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer cons.Close()
	p := newProducer(t, c, pulsar.ProducerOptions{
		Topic: topic, Name: "chunker", DisableBatching: true, EnableChunking: true, ChunkMaxMessageSize: 1024,
	})
	big := strings.Repeat("0123456789", 1000)
	send(t, p, big)
	send(t, p, "small")
	if m := receive(t, cons); string(m.Payload()) != big {
		t.Fatalf("chunked message came back with %d bytes, want %d", len(m.Payload()), len(big))
	}
	if m := receive(t, cons); string(m.Payload()) != "small" {
		t.Fatalf("got %q after the chunked message, want small", m.Payload())
	}
}
