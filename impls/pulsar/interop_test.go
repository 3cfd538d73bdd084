package pulsar_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// A plain pulsar-client-go consumer reads what the driver wrote: the same
// payload, the application's properties plus the driver's sequence number
// and term, and the same position, after the writer's claim (an empty
// message with ClaimProperty, sequence number 0).
func TestPlainConsumerReadsDriverMessages(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "to-plain", walimpls.ReadWrite)
	type sent struct {
		payload []byte
		props   message.Properties
		id      message.MessageID
	}
	var msgs []sent
	for i, props := range []message.Properties{nil, {"k": "v"}, {"ключ": "値", "empty": ""}} {
		payload := []byte{byte(i), 0, 0xff, 'x'}
		msgs = append(msgs, sent{payload, props, mustAppend(t, w, string(payload), props)})
	}
	cons, err := rawClient(t, b).Subscribe(pc.ConsumerOptions{
		Topic: topicPrefix + "to-plain", SubscriptionName: "plain", SubscriptionInitialPosition: pc.SubscriptionPositionEarliest,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	claim, err := cons.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := claim.Properties(); len(claim.Payload()) != 0 || p[pulsar.ClaimProperty] != "1" || p[pulsar.SeqProperty] != "0" || p[pulsar.TermProperty] != "1" {
		t.Fatalf("first message %q %v, want the claim of term 1", claim.Payload(), p)
	}
	for i, want := range msgs {
		m, err := cons.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Payload()) != string(want.payload) {
			t.Errorf("message %d: payload %q, want %q", i, m.Payload(), want.payload)
		}
		props := maps.Clone(m.Properties())
		if props[pulsar.SeqProperty] != fmt.Sprint(i+1) {
			t.Errorf("message %d: %s = %q, want %d", i, pulsar.SeqProperty, props[pulsar.SeqProperty], i+1)
		}
		if props[pulsar.TermProperty] != "1" {
			t.Errorf("message %d: %s = %q, want 1", i, pulsar.TermProperty, props[pulsar.TermProperty])
		}
		delete(props, pulsar.SeqProperty)
		delete(props, pulsar.TermProperty)
		if len(props) != len(want.props) || (len(props) > 0 && !maps.Equal(props, map[string]string(want.props))) {
			t.Errorf("message %d: properties %v, want %v", i, props, want.props)
		}
		if id := pulsar.NewID(m.ID().LedgerID(), m.ID().EntryID(), m.ID().BatchIdx()); !id.EQ(want.id) {
			t.Errorf("message %d: consumer sees %v, driver returned %v", i, id, want.id)
		}
	}
}

// The driver reads what a plain producer wrote, batched or not and without
// the driver's sequence property, and appends after it.
func TestDriverReadsPlainProducerMessages(t *testing.T) {
	b := startBroker(t)
	c := rawClient(t, b)
	topic := topicPrefix + "from-plain"
	single := rawProducer(t, c, topic, false)
	if _, err := single.Send(context.Background(), &pc.ProducerMessage{Payload: []byte("p0"), Properties: map[string]string{"from": "plain"}}); err != nil {
		t.Fatal(err)
	}
	single.Close() // an exclusive producer cannot join shared ones
	batched := rawProducer(t, c, topic, true)
	errs := make(chan error, 3)
	for i := 1; i <= 3; i++ {
		batched.SendAsync(context.Background(), &pc.ProducerMessage{Payload: fmt.Appendf(nil, "p%d", i)},
			func(_ pc.MessageID, _ *pc.ProducerMessage, err error) { errs <- err })
	}
	if err := batched.FlushWithCtx(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	batched.Close()

	w := openWAL(t, b, "from-plain", walimpls.ReadWrite)
	got := readN(t, w, walimpls.DeliverAll(), 4)
	if p := payloads(got); p != "p0 p1 p2 p3 " {
		t.Fatalf("delivered %q", p)
	}
	if v, _ := got[0].Properties().Get("from"); v != "plain" {
		t.Errorf("properties of p0: %v", got[0].Properties())
	}
	if id := got[3].MessageID().(pulsar.ID); id.Batch != 2 {
		t.Errorf("third message of the batch has ID %v, want batch index 2", id)
	}
	mine := mustAppend(t, w, "mqwal", nil)
	if !got[3].MessageID().LT(mine) {
		t.Fatalf("append after plain messages got %v, not after %v", mine, got[3].MessageID())
	}
	all := readN(t, w, walimpls.DeliverAll(), 5)
	if p := payloads(all); p != "p0 p1 p2 p3 mqwal " {
		t.Fatalf("delivered %q", p)
	}
	// Positions inside a batch work as start positions.
	if got := readN(t, w, walimpls.StartAfter(got[2].MessageID()), 2); payloads(got) != "p3 mqwal " {
		t.Fatalf("StartAfter(batch index 1) delivered %q", payloads(got))
	}
}
