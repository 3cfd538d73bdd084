package pulsar

import (
	"context"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
)

// A wake-up Consumer that missed a message (here: one subscribed at the
// topic's end after the message was stored) is backed by the recheck: the
// parked scanner asks for the topic's last position and wakes itself. One
// that is at the last position keeps waiting.
func TestParkRecheckWakesForAMissedMessage(t *testing.T) {
	c := rawClient(t, 10*time.Second)
	const topic = "persistent://public/default/park-recheck"
	p, err := c.CreateProducer(pc.ProducerOptions{Topic: topic, DisableBatching: true, SendTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	first, err := p.Send(context.Background(), &pc.ProducerMessage{Payload: []byte("seen")})
	if err != nil {
		t.Fatal(err)
	}
	st := &scanState{w: &wal{o: &opener{cfg: config{parkRecheck: 50 * time.Millisecond}, client: client{c}}, topic: topic}}
	st.last, st.hasLast = idOf(first), true
	atEnd := func() pc.Consumer {
		t.Helper()
		cons, err := c.Subscribe(pc.ConsumerOptions{Topic: topic, SubscriptionName: "latest", SubscriptionMode: pc.NonDurable,
			SubscriptionInitialPosition: pc.SubscriptionPositionLatest})
		if err != nil {
			t.Fatal(err)
		}
		return cons
	}

	quiet := atEnd()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if err := st.waitOn(ctx, quiet); err == nil {
		t.Fatal("waitOn woke with nothing after the last position")
	}
	cancel()
	closeConsumer(quiet)

	if _, err := p.Send(context.Background(), &pc.ProducerMessage{Payload: []byte("missed")}); err != nil {
		t.Fatal(err)
	}
	late := atEnd() // subscribed after "missed": it never delivers it
	defer closeConsumer(late)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.waitOn(ctx, late); err != nil {
		t.Fatalf("waitOn: %v, want a wake-up from the recheck", err)
	}
}
