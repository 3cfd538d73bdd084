package pulsar_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// Properties of a plain producer's message that claim to be mqwal's own:
// the adaptor's term and fence, the driver's claim, sequence number and
// term, and a property named like the key.
var forged = map[string]string{
	"_mqwal.term":        "99",
	"_mqwal.fence":       "99",
	pulsar.ClaimProperty: "99",
	pulsar.SeqProperty:   "0",
	pulsar.TermProperty:  "99",
	pulsar.KeyProperty:   "not the key",
	"app":                "plain",
}

// sendPlain sends msgs through a new plain producer (batched if asked) and
// closes it: the WAL's exclusive producer and a plain one never meet.
func sendPlain(t testing.TB, c pc.Client, topic string, batched bool, msgs ...*pc.ProducerMessage) {
	t.Helper()
	p := rawProducer(t, c, topic, batched)
	defer p.Close()
	errs := make(chan error, len(msgs))
	for _, m := range msgs {
		p.SendAsync(context.Background(), m, func(_ pc.MessageID, _ *pc.ProducerMessage, err error) { errs <- err })
	}
	if err := p.FlushWithCtx(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range msgs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// appendAs opens ch with term on a new opener, appends payloads, and closes.
func appendAs(t testing.TB, b *pulsartest.Broker, ch string, term int64, payloads ...string) []message.MessageID {
	t.Helper()
	w, err := openChannel(t, b, ch, term, walimpls.ReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var ids []message.MessageID
	for _, p := range payloads {
		ids = append(ids, mustAppend(t, w, p, nil))
	}
	return ids
}

// A plain producer's messages between mqwal's are delivered once and in
// order, with their key, ordering key and event time as properties, and
// their reserved properties renamed: they neither fence the writer nor hide
// its later appends, and a forged claim is an ordinary message.
func TestForeignProducerInterleaved(t *testing.T) {
	for _, dedup := range []bool{false, true} {
		t.Run(fmt.Sprintf("dedup=%v", dedup), func(t *testing.T) {
			b := startBroker(t, pulsartest.WithDeduplication(dedup))
			c := rawClient(t, b)
			const ch = "shared"
			event := time.UnixMilli(1_700_000_000_123)
			appendAs(t, b, ch, 2, "a1")
			sendPlain(t, c, topicPrefix+ch, false, &pc.ProducerMessage{
				Payload: []byte("f1"), Properties: forged, Key: "k1", OrderingKey: "o1", EventTime: event,
			})
			appendAs(t, b, ch, 2, "a2") // same term: not fenced by the forged term 99
			sendPlain(t, c, topicPrefix+ch, true, &pc.ProducerMessage{Payload: []byte("f2")}, &pc.ProducerMessage{Payload: []byte("f3"), Key: "k3"})
			appendAs(t, b, ch, 3, "a3") // a new term claims after foreign messages

			r := openWAL(t, b, ch, walimpls.ReadOnly)
			got := readN(t, r, walimpls.DeliverAll(), 6)
			if p := payloads(got); p != "a1 f1 a2 f2 f3 a3 " {
				t.Fatalf("delivered %q", p)
			}
			f1 := got[1].Properties()
			want := message.Properties{
				pulsar.ForeignPropertyPrefix + "_mqwal.term":        "99",
				pulsar.ForeignPropertyPrefix + "_mqwal.fence":       "99",
				pulsar.ForeignPropertyPrefix + pulsar.ClaimProperty: "99",
				pulsar.ForeignPropertyPrefix + pulsar.SeqProperty:   "0",
				pulsar.ForeignPropertyPrefix + pulsar.TermProperty:  "99",
				pulsar.ForeignPropertyPrefix + pulsar.KeyProperty:   "not the key",
				"app":                      "plain",
				pulsar.KeyProperty:         "k1",
				pulsar.OrderingKeyProperty: "o1",
				pulsar.EventTimeProperty:   "1700000000123",
			}
			if !equalProps(f1, want) {
				t.Errorf("f1 delivered with %v\nwant %v", f1, want)
			}
			if v, _ := got[4].Properties().Get(pulsar.KeyProperty); v != "k3" || len(got[3].Properties()) != 0 {
				t.Errorf("batched f2 %v, f3 %v", got[3].Properties(), got[4].Properties())
			}
			for _, i := range []int{0, 2, 5} {
				if n := len(got[i].Properties()); n != 0 {
					t.Errorf("%s delivered with %v", got[i].Payload(), got[i].Properties())
				}
			}
			// Resuming behind a foreign message, and inside a batch.
			if p := payloads(readN(t, r, walimpls.StartAfter(got[1].MessageID()), 4)); p != "a2 f2 f3 a3 " {
				t.Errorf("StartAfter(f1) delivered %q", p)
			}
			if p := payloads(readN(t, r, walimpls.StartAfter(got[3].MessageID()), 2)); p != "f3 a3 " {
				t.Errorf("StartAfter(f2) delivered %q", p)
			}
			// A lower term is still fenced by term 3, not by the forged 99:
			// term 3 reopens without being fenced.
			if _, err := openChannel(t, b, ch, 2, walimpls.ReadWrite); !errors.Is(err, walimpls.ErrFenced) {
				t.Errorf("term 2 after term 3: %v, want ErrFenced", err)
			}
			appendAs(t, b, ch, 3, "a4")
		})
	}
}

func equalProps(a, b message.Properties) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if w, ok := a[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Append writes the field properties as the message's key, ordering key and
// event time, which a plain consumer sees as such (and not as properties);
// scanners deliver them back as the same properties.
func TestAppendSetsMessageFields(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "fields", walimpls.ReadWrite)
	props := message.Properties{
		pulsar.KeyProperty: "order-17", pulsar.OrderingKeyProperty: "customer-3", pulsar.EventTimeProperty: "1700000000123", "app": "v",
	}
	id := mustAppend(t, w, "keyed", props)
	for _, bad := range []message.Properties{
		{pulsar.KeyProperty: ""},
		{pulsar.OrderingKeyProperty: ""},
		{pulsar.EventTimeProperty: "0"},
		{pulsar.EventTimeProperty: "-5"},
		{pulsar.EventTimeProperty: "1.5"},
		{pulsar.EventTimeProperty: "9223372036855"}, // past what time.UnixNano holds
		{pulsar.ForeignPropertyPrefix + "x": "y"},
		{"_mqwal.pulsar.anything": "y"},
	} {
		if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte("bad"), bad)); !errors.Is(err, walimpls.ErrInvalidArgument) {
			t.Errorf("Append with %v: %v, want ErrInvalidArgument", bad, err)
		}
	}
	got := readN(t, w, walimpls.DeliverAll(), 1)
	if !got[0].MessageID().EQ(id) || !equalProps(got[0].Properties(), props) {
		t.Fatalf("read back %v %v, want %v %v", got[0].MessageID(), got[0].Properties(), id, props)
	}
	cons, err := rawClient(t, b).Subscribe(pc.ConsumerOptions{
		Topic: topicPrefix + "fields", SubscriptionName: "plain", SubscriptionInitialPosition: pc.SubscriptionPositionEarliest,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := cons.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Payload()) != "keyed" {
			continue // the claim
		}
		if m.Key() != "order-17" || m.OrderingKey() != "customer-3" || m.EventTime().UnixMilli() != 1700000000123 {
			t.Errorf("plain consumer: key %q, ordering key %q, event time %v", m.Key(), m.OrderingKey(), m.EventTime())
		}
		for _, k := range []string{pulsar.KeyProperty, pulsar.OrderingKeyProperty, pulsar.EventTimeProperty} {
			if _, ok := m.Properties()[k]; ok {
				t.Errorf("plain consumer sees property %s: %v", k, m.Properties())
			}
		}
		if m.Properties()["app"] != "v" {
			t.Errorf("plain consumer: properties %v", m.Properties())
		}
		return
	}
}

// Through the adaptor: a plain producer's message with the adaptor's own
// term and fence properties (term 99) between two appends of term 2 hides
// nothing, and the key set on Append reaches other clients.
func TestAdaptorWithForeignProducer(t *testing.T) {
	b := startBroker(t)
	open := func(mode wal.AccessMode) (wal.Opener, wal.WAL) {
		t.Helper()
		d, err := builder(b).Build()
		if err != nil {
			t.Fatal(err)
		}
		o := adaptor.NewOpener(pulsar.Name, d)
		w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: "via-adaptor", Term: 2, AccessMode: mode}})
		if err != nil {
			o.Close()
			t.Fatal(err)
		}
		return o, w
	}
	appendOne := func(payload string, props message.Properties) {
		t.Helper()
		o, w := open(wal.ReadWrite)
		defer o.Close()
		if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte(payload), props)); err != nil {
			t.Fatal(err)
		}
	}
	appendOne("before", message.Properties{pulsar.KeyProperty: "k"})
	sendPlain(t, rawClient(t, b), topicPrefix+"via-adaptor", false, &pc.ProducerMessage{Payload: []byte("foreign"), Properties: forged})
	appendOne("after", nil)

	o, r := open(wal.ReadOnly)
	defer o.Close()
	got := readAdaptor(t, r, 3)
	if p := payloads(got); p != "before foreign after " {
		t.Fatalf("delivered through the adaptor %q", p)
	}
	if v, _ := got[0].Properties().Get(pulsar.KeyProperty); v != "k" {
		t.Errorf("before: %v", got[0].Properties())
	}
	if v, _ := got[1].Properties().Get(pulsar.ForeignPropertyPrefix + "_mqwal.term"); v != "99" {
		t.Errorf("foreign: %v", got[1].Properties())
	}
}

// readAdaptor reads n messages from the start through an adaptor WAL and
// checks that nothing more comes for a moment.
func readAdaptor(t testing.TB, w wal.WAL, n int) []message.ImmutableMessage {
	t.Helper()
	s, err := w.Read(context.Background(), wal.ReadOption{DeliverPolicy: wal.DeliverAll()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	var got []message.ImmutableMessage
	timeout := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				t.Fatalf("scanner ended after %d: %v", len(got), s.Error())
			}
			got = append(got, m)
		case <-timeout:
			t.Fatalf("read %d of %d: %q", len(got), n, payloads(got))
		}
	}
	select {
	case m := <-s.Chan():
		t.Fatalf("more than %d: %q", n, m.Payload())
	case <-time.After(200 * time.Millisecond):
	}
	return got
}

// Foreign messages (single and batched) between mqwal's are delivered once
// and in order by a scanner whose connection drops and whose broker
// restarts, on the bare driver and through the adaptor, and a tailing
// scanner sees what both write between restarts.
func TestForeignMessagesAcrossReconnects(t *testing.T) {
	if raceDetector {
		t.Skip("pulsar-client-go v0.19.0 races on reconnect (see harness)")
	}
	b := startBroker(t)
	c := rawClient(t, b)
	const ch = "shared-reconnects"
	d, err := builder(b).Build()
	if err != nil {
		t.Fatal(err)
	}
	ao := adaptor.NewOpener(pulsar.Name, d)
	defer ao.Close()
	appendAs(t, b, ch, 1) // the channel exists (its claim), so it opens ReadOnly
	ar, err := ao.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: ch, AccessMode: wal.ReadOnly}})
	if err != nil {
		t.Fatal(err)
	}
	tail, err := ar.Read(context.Background(), wal.ReadOption{DeliverPolicy: wal.DeliverAll(), ReadAheadBufferSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tail.Close() }()
	var want []string
	for round := range 8 {
		var ps []string
		for i := range 10 {
			ps = append(ps, fmt.Sprintf("w%d.%d", round, i))
		}
		appendAs(t, b, ch, 1, ps...)
		want = append(want, ps...)
		var msgs []*pc.ProducerMessage
		for i := range 10 {
			p := fmt.Sprintf("f%d.%d", round, i)
			msgs = append(msgs, &pc.ProducerMessage{Payload: []byte(p), Properties: forged})
			want = append(want, p)
		}
		sendPlain(t, c, topicPrefix+ch, round%2 == 1, msgs...)
		if round%3 == 2 {
			if err := b.Restart(); err != nil {
				t.Fatal(err)
			}
		} else {
			b.DropConnections()
		}
	}
	expectPayloads(t, "tailing adaptor scanner", tail.Chan(), tail.Error, want, nil)

	r := openWAL(t, b, ch, walimpls.ReadOnly)
	for _, restart := range []bool{false, true} {
		fault := func() {
			if restart {
				if err := b.Restart(); err != nil {
					t.Fatal(err)
				}
			} else {
				b.DropConnections()
			}
		}
		s, err := r.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll(), ReadAheadBufferSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		expectPayloads(t, fmt.Sprintf("driver scanner (restart=%v)", restart), s.Chan(), s.Error, want, fault)
		_ = s.Close()
		as, err := ar.Read(context.Background(), wal.ReadOption{DeliverPolicy: wal.DeliverAll(), ReadAheadBufferSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		expectPayloads(t, fmt.Sprintf("adaptor scanner (restart=%v)", restart), as.Chan(), as.Error, want, fault)
		_ = as.Close()
	}
}

// expectPayloads reads len(want) messages from ch and compares payloads in
// order, calling fault (if not nil) before every 25th message from the 10th.
func expectPayloads(t *testing.T, what string, ch <-chan message.ImmutableMessage, errf func() error, want []string, fault func()) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	var last message.MessageID
	for i, w := range want {
		if fault != nil && i%25 == 10 {
			fault()
		}
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("%s ended at %d: %v", what, i, errf())
			}
			if string(m.Payload()) != w {
				t.Fatalf("%s: message %d is %q, want %q", what, i, m.Payload(), w)
			}
			if last != nil && !last.LT(m.MessageID()) {
				t.Fatalf("%s: ID %v after %v", what, m.MessageID(), last)
			}
			last = m.MessageID()
		case <-timeout:
			t.Fatalf("%s: stuck at message %d (%s)", what, i, w)
		}
	}
}
