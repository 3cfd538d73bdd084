package pulsartest_test

import (
	"fmt"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
)

// TestReaderContinuesAfterDroppedConnection: an idle reader whose connection
// is dropped resumes after the last message it read.
//
// The reader is idle on purpose. pulsar-client-go v0.19.0 loses a message
// when a reader reconnects with messages prefetched (the dispatcher drops the
// one it holds and restarts after the next), and its reconnect reads the
// last dequeued id without synchronising with Reader.Next (a data race under
// -race). HasNext before the fault both drains nothing and orders Next
// before the reconnect; the producer lives on a client created after the
// drop, so no send races the producer's own reconnect.
func TestReaderContinuesAfterDroppedConnection(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	for i := range 5 {
		send(t, p, fmt.Sprintf("m%d", i))
	}
	p.Close()
	r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatalf("reader: %v", err)
	}
	defer r.Close()
	for i := range 5 {
		if m := readNext(t, r); string(m.Payload()) != fmt.Sprintf("m%d", i) {
			t.Fatalf("read %q, want m%d", m.Payload(), i)
		}
	}
	if r.HasNext() {
		t.Fatal("HasNext after reading everything")
	}
	b.DropConnections()

	p = newProducer(t, newClient(t, b), pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	for i := 5; i < 10; i++ {
		send(t, p, fmt.Sprintf("m%d", i))
	}
	for i := 5; i < 10; i++ {
		if m := readNext(t, r); string(m.Payload()) != fmt.Sprintf("m%d", i) {
			t.Fatalf("after the drop read %q, want m%d", m.Payload(), i)
		}
	}
}
