package pulsartest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
)

// readUntil reads topic from the earliest retained message until it has
// seen last (by payload), with a bounded wait: HasNext trusts the last
// message id, which outlives a trimmed entry.
func readUntil(t *testing.T, c pulsar.Client, topic, last string) []string {
	t.Helper()
	r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatalf("create reader: %v", err)
	}
	defer r.Close()
	var got []string
	for len(got) == 0 || got[len(got)-1] != last {
		got = append(got, string(readNext(t, r).Payload()))
	}
	return got
}

func mustSetPolicies(t *testing.T, b *pulsartest.Broker, scope string, p pulsartest.Policies) {
	t.Helper()
	if err := b.SetPolicies(scope, p); err != nil {
		t.Fatalf("set policies of %s: %v", scope, err)
	}
}

// A topic without a durable subscription keeps nothing once its ledger is
// closed: a reader from the earliest position starts after the lost data.
func TestRolloverDeletesWhatNoSubscriptionNeeds(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	sendN(t, p, 5)
	b.RollLedgers()
	if n := b.NumMessages(topic); n != 0 {
		t.Fatalf("topic holds %d messages after rollover without subscriptions, want 0", n)
	}
	send(t, p, "after")
	if got := readUntil(t, c, topic, "after"); fmt.Sprint(got) != "[after]" {
		t.Fatalf("reader from the earliest position got %v, want [after]", got)
	}
}

// A durable subscription keeps its backlog across rollovers; the ledger
// goes once the subscription has acknowledged all of it.
func TestDurableSubscriptionKeepsBacklog(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	cons := subscribe(t, c, topic, "keep", pulsar.Exclusive)
	defer cons.Close()
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	sendN(t, p, 5)
	b.RollLedgers()
	b.Housekeep()
	if n := b.NumMessages(topic); n != 5 {
		t.Fatalf("topic holds %d messages, want the 5 of the backlog", n)
	}
	var last pulsar.Message
	for range 3 {
		last = receive(t, cons)
	}
	if err := cons.AckCumulative(last); err != nil {
		t.Fatal(err)
	}
	if n := b.NumMessages(topic); n != 5 {
		t.Fatalf("topic holds %d messages after a partial ack, want 5: a ledger goes only as a whole", n)
	}
	for range 2 {
		last = receive(t, cons)
	}
	if err := cons.AckCumulative(last); err != nil {
		t.Fatal(err)
	}
	if n := b.NumMessages(topic); n != 0 {
		t.Fatalf("topic holds %d messages after everything was acknowledged, want 0", n)
	}
}

// The current ledger is never deleted, acknowledged or not.
func TestCurrentLedgerIsKept(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	sendN(t, p, 3)
	b.Housekeep()
	if n := b.NumMessages(topic); n != 3 {
		t.Fatalf("topic holds %d messages, want 3: the open ledger stays", n)
	}
}

func TestRetentionKeepsConsumedLedgers(t *testing.T) {
	clock := pulsartest.NewManualClock(time.Now())
	b := startBroker(t, pulsartest.WithClock(clock.Now))
	c := newClient(t, b)
	forever, timed := newTopic(t), newTopic(t)
	mustSetPolicies(t, b, forever, pulsartest.Policies{Retention: &pulsartest.Retention{TimeInMinutes: -1, SizeInMB: -1}})
	mustSetPolicies(t, b, "public/default", pulsartest.Policies{Retention: &pulsartest.Retention{TimeInMinutes: 10, SizeInMB: -1}})
	for _, topic := range []string{forever, timed} {
		sendN(t, newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true}), 4)
	}
	b.RollLedgers()
	clock.Advance(9 * time.Minute)
	b.Housekeep()
	if f, tm := b.NumMessages(forever), b.NumMessages(timed); f != 4 || tm != 4 {
		t.Fatalf("within the retention time: %d and %d messages, want 4 and 4", f, tm)
	}
	clock.Advance(2 * time.Minute)
	b.Housekeep()
	if f, tm := b.NumMessages(forever), b.NumMessages(timed); f != 4 || tm != 0 {
		t.Fatalf("after the retention time: %d and %d messages, want 4 (topic policy: for ever) and 0", f, tm)
	}
}

// Message TTL moves a durable subscription past old messages: its backlog
// is gone at the next trim, although it never acknowledged anything.
func TestMessageTTLExpiresBacklog(t *testing.T) {
	clock := pulsartest.NewManualClock(time.Now())
	b := startBroker(t, pulsartest.WithClock(clock.Now))
	c := newClient(t, b)
	topic := newTopic(t)
	cons := subscribe(t, c, topic, "slow", pulsar.Exclusive)
	cons.Close()
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	sendN(t, p, 3)
	mustSetPolicies(t, b, "public/default", pulsartest.Policies{MessageTTLSeconds: new(60)})
	b.Housekeep()
	if n := b.NumMessages(topic); n != 3 {
		t.Fatalf("before the TTL passed: %d messages, want 3", n)
	}
	clock.Advance(2 * time.Minute)
	b.RollLedgers()
	b.Housekeep()
	if n := b.NumMessages(topic); n != 0 {
		t.Fatalf("after the TTL: %d messages, want 0", n)
	}
	send(t, p, "new")
	cons = subscribe(t, c, topic, "slow", pulsar.Exclusive)
	defer cons.Close()
	if m := receive(t, cons); string(m.Payload()) != "new" {
		t.Fatalf("subscription resumes at %q, want the message after the expired ones", m.Payload())
	}
}

func TestBacklogQuotaEviction(t *testing.T) {
	clock := pulsartest.NewManualClock(time.Now())
	b := startBroker(t, pulsartest.WithClock(clock.Now))
	c := newClient(t, b)
	sized, aged := newTopic(t), newTopic(t)
	mustSetPolicies(t, b, sized, pulsartest.Policies{BacklogQuotas: map[pulsartest.BacklogQuotaType]pulsartest.BacklogQuota{
		pulsartest.DestinationStorage: {LimitSize: 1, Policy: pulsartest.ConsumerBacklogEviction},
	}})
	mustSetPolicies(t, b, aged, pulsartest.Policies{BacklogQuotas: map[pulsartest.BacklogQuotaType]pulsartest.BacklogQuota{
		pulsartest.MessageAge: {LimitTime: 60, Policy: pulsartest.ConsumerBacklogEviction},
	}})
	for _, topic := range []string{sized, aged} {
		subscribe(t, c, topic, "slow", pulsar.Exclusive).Close()
		sendN(t, newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true}), 3)
	}
	b.RollLedgers()
	b.Housekeep()
	if s, a := b.NumMessages(sized), b.NumMessages(aged); s != 0 || a != 3 {
		t.Fatalf("size quota of 1 byte: %d left, want 0; age quota not reached: %d left, want 3", s, a)
	}
	clock.Advance(time.Hour)
	b.Housekeep()
	if a := b.NumMessages(aged); a != 0 {
		t.Fatalf("age quota passed: %d left, want 0", a)
	}
}

func TestMaxEntriesPerLedger(t *testing.T) {
	b := startBroker(t, pulsartest.WithMaxEntriesPerLedger(2))
	c := newClient(t, b)
	topic := newTopic(t)
	cons := subscribe(t, c, topic, "s", pulsar.Exclusive)
	defer cons.Close()
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	var ids []pulsar.MessageID
	for i := range 5 {
		ids = append(ids, send(t, p, fmt.Sprint(i)))
	}
	for i, id := range ids {
		if want := int64(i % 2); id.EntryID() != want || id.LedgerID() != ids[i-i%2].LedgerID() {
			t.Fatalf("message %d stored at %v: want entry %d, two entries per ledger", i, id, want)
		}
		if i >= 2 && id.LedgerID() <= ids[i-2].LedgerID() {
			t.Fatalf("message %d in ledger %d, not after %d", i, id.LedgerID(), ids[i-2].LedgerID())
		}
	}
	if n := b.NumMessages(topic); n != 5 {
		t.Fatalf("topic holds %d, want 5: the subscription has acknowledged nothing", n)
	}
}

// Trimming survives a restart from the data directory, and so does the
// deduplication state of producers whose entries were trimmed.
func TestTrimPersists(t *testing.T) {
	b := startBroker(t, pulsartest.WithDataDir(t.TempDir()), pulsartest.WithDeduplication(true))
	c := newClient(t, b)
	topic := newTopic(t)
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Name: "w", DisableBatching: true})
	sendN(t, p, 3) // sequence ids 0..2
	b.RollLedgers()
	if n := b.NumMessages(topic); n != 0 {
		t.Fatalf("topic holds %d, want 0", n)
	}
	p.Close()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	if n := b.NumMessages(topic); n != 0 {
		t.Fatalf("after restart the topic holds %d, want 0: trimmed entries came back", n)
	}
	p = newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Name: "w", DisableBatching: true})
	seq := int64(1)
	id, err := p.Send(ctxTimeout(t), &pulsar.ProducerMessage{Payload: []byte("again"), SequenceID: &seq})
	if err != nil {
		t.Fatal(err)
	}
	if id.LedgerID() != -1 || id.EntryID() != -1 {
		t.Fatalf("resend of sequence id 1 stored at %v, want a duplicate (-1:-1)", id)
	}
}

// The last message id outlives the trimming of its ledger until the topic
// is loaded again, as a real broker's last confirmed entry does.
func TestLastMessageIDAfterTrim(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	sendN(t, p, 2)
	last := send(t, p, "last")
	b.RollLedgers()
	r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.LatestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.GetLastMessageID()
	r.Close()
	if err != nil || !sameID(got, last) {
		t.Fatalf("last message id after trim: %v, %v; want %v", got, err, last)
	}
	p.Close() // a producer reconnecting when the client closes outlives it
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.LatestMessageID()})
		if err == nil {
			got, err = r.GetLastMessageID()
			r.Close()
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("last message id after restart: %v", err)
		}
	}
	if got.EntryID() != -1 {
		t.Fatalf("last message id of a reloaded topic whose entries were trimmed: %v, want entry -1", got)
	}
}
