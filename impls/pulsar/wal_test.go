package pulsar_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
	pclog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

const topicPrefix = "persistent://public/default/"

func rawClient(t testing.TB, b *pulsartest.Broker) pc.Client {
	t.Helper()
	c, err := pc.NewClient(pc.ClientOptions{URL: b.URL(), Logger: pclog.DefaultNopLogger(), OperationTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func rawProducer(t testing.TB, c pc.Client, topic string, batching bool) pc.Producer {
	t.Helper()
	p, err := c.CreateProducer(pc.ProducerOptions{Topic: topic, DisableBatching: !batching, SendTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func openWAL(t testing.TB, b *pulsartest.Broker, ch string, mode walimpls.AccessMode, opts ...pulsar.Option) walimpls.WALImpls {
	t.Helper()
	o, err := builder(b, opts...).Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1, AccessMode: mode}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

func mustAppend(t testing.TB, w walimpls.WALImpls, payload string, props message.Properties) message.MessageID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := w.Append(ctx, message.NewMutableMessage([]byte(payload), props))
	if err != nil {
		t.Fatalf("Append(%q): %v", payload, err)
	}
	return id
}

// readN reads n messages and then expects quiet for a moment.
func readN(t testing.TB, w walimpls.ROWALImpls, p walimpls.DeliverPolicy, n int) []message.ImmutableMessage {
	t.Helper()
	s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: p})
	if err != nil {
		t.Fatalf("Read(%v): %v", p, err)
	}
	defer s.Close()
	var got []message.ImmutableMessage
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				t.Fatalf("scanner ended after %d of %d: %v", len(got), n, s.Error())
			}
			got = append(got, m)
		case <-timeout:
			t.Fatalf("got %d of %d messages", len(got), n)
		}
	}
	select {
	case m := <-s.Chan():
		t.Fatalf("unexpected extra message %v %q", m.MessageID(), m.Payload())
	case <-time.After(200 * time.Millisecond):
	}
	return got
}

func payloads(msgs []message.ImmutableMessage) string {
	s := ""
	for _, m := range msgs {
		s += string(m.Payload()) + " "
	}
	return s
}

// A lost SEND_RECEIPT makes the client resend. Without broker deduplication
// the topic then holds two copies; Append must return the first, which is
// what scanners deliver. With deduplication the client gets -1:-1, which
// must never be returned.
func TestLostReceiptGivesFirstCopy(t *testing.T) {
	for _, dedup := range []bool{false, true} {
		t.Run(fmt.Sprintf("dedup=%v", dedup), func(t *testing.T) {
			b := startBroker(t, pulsartest.WithDeduplication(dedup))
			w := openWAL(t, b, "lost", walimpls.ReadWrite)
			a := mustAppend(t, w, "a", nil)
			b.DropNextReceipt(topicPrefix + "lost")
			bID := mustAppend(t, w, "b", message.Properties{"k": "v"})
			c := mustAppend(t, w, "c", nil)
			stored, want := b.NumMessages(topicPrefix+"lost"), 3
			if !dedup {
				want = 4 // "b" twice
			}
			if stored != want {
				t.Fatalf("broker stores %d messages, want %d: the fault did not happen as planned", stored, want)
			}
			a0 := a.(pulsar.ID)
			if wantB := pulsar.NewID(a0.Ledger, a0.Entry+1, 0); !bID.EQ(wantB) {
				t.Fatalf("Append after a lost receipt returned %v, want the first copy %v", bID, wantB)
			}
			got := readN(t, w, walimpls.DeliverAll(), 3)
			if p := payloads(got); p != "a b c " {
				t.Fatalf("delivered %q", p)
			}
			for i, id := range []message.MessageID{a, bID, c} {
				if !got[i].MessageID().EQ(id) {
					t.Errorf("message %d delivered as %v, appended as %v", i, got[i].MessageID(), id)
				}
			}
			if v, _ := got[1].Properties().Get("k"); v != "v" || len(got[1].Properties()) != 1 {
				t.Errorf("properties of b: %v", got[1].Properties())
			}
			// Starting at the second copy's neighbourhood must not deliver it.
			if got := readN(t, w, walimpls.StartAfter(bID), 1); string(got[0].Payload()) != "c" {
				t.Fatalf("StartAfter(b) delivered %q", got[0].Payload())
			}
		})
	}
}

// Scanners drop second copies, pass a gap that is really stored (after
// re-reading to be sure), and deliver messages of other producers.
func TestScannerCopiesGapsAndForeignMessages(t *testing.T) {
	b := startBroker(t)
	c := rawClient(t, b)
	p := rawProducer(t, c, topicPrefix+"mixed", false)
	for _, m := range []struct{ payload, seq string }{
		{"s0", "0"}, {"s1", "1"}, {"s1-copy", "1"}, {"foreign", ""}, {"s2", "2"}, {"s5", "5"}, {"s6", "6"}, {"s5-copy", "5"},
	} {
		props := map[string]string{"app": m.payload}
		if m.seq != "" {
			props[pulsar.SeqProperty] = m.seq
		}
		if _, err := p.Send(context.Background(), &pc.ProducerMessage{Payload: []byte(m.payload), Properties: props}); err != nil {
			t.Fatal(err)
		}
	}
	w := openWAL(t, b, "mixed", walimpls.ReadOnly)
	got := readN(t, w, walimpls.DeliverAll(), 6)
	if p := payloads(got); p != "s0 s1 foreign s2 s5 s6 " {
		t.Fatalf("delivered %q", p)
	}
	for i, m := range got {
		if _, ok := m.Properties().Get(pulsar.SeqProperty); ok {
			t.Errorf("message %d still carries %s", i, pulsar.SeqProperty)
		}
		if v, _ := m.Properties().Get("app"); v != string(m.Payload()) {
			t.Errorf("message %d lost its property: %v", i, m.Properties())
		}
		if i > 0 && !got[i-1].MessageID().LT(m.MessageID()) {
			t.Errorf("IDs out of order: %v then %v", got[i-1].MessageID(), m.MessageID())
		}
	}
	// Resuming after the gap's far side needs no confirmation and still
	// drops the trailing copy.
	if got := readN(t, w, walimpls.StartFrom(got[4].MessageID()), 2); payloads(got) != "s5 s6 " {
		t.Fatalf("StartFrom(s5) delivered %q", payloads(got))
	}
}

// A second ReadWrite WAL of a channel cannot append while the first holds
// the exclusive producer: a retryable ErrUnavailable, then success once the
// first closes.
func TestSecondWriterIsBusyUntilFirstCloses(t *testing.T) {
	b := startBroker(t)
	first := openWAL(t, b, "busy", walimpls.ReadWrite)
	mustAppend(t, first, "one", nil)
	second := openWAL(t, b, "busy", walimpls.ReadWrite)
	_, err := second.Append(context.Background(), message.NewMutableMessage([]byte("two"), nil))
	if !errors.Is(err, walimpls.ErrUnavailable) || !walimpls.IsRetryable(err) {
		t.Fatalf("Append by a second writer: %v, want retryable ErrUnavailable", err)
	}
	first.Close()
	id := mustAppend(t, second, "two", nil)
	got := readN(t, second, walimpls.DeliverAll(), 2)
	if payloads(got) != "one two " || !got[1].MessageID().EQ(id) {
		t.Fatalf("after handover: %q, last %v want %v", payloads(got), got[1].MessageID(), id)
	}
}

func TestAppendRefusesDriverProperty(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "forge", walimpls.ReadWrite)
	_, err := w.Append(context.Background(), message.NewMutableMessage(nil, message.Properties{pulsar.SeqProperty: "7"}))
	if !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Fatalf("Append with %s: %v", pulsar.SeqProperty, err)
	}
	// Other reserved properties (the adaptor's) pass through.
	mustAppend(t, w, "x", message.Properties{message.ReservedPropertyPrefix + "term": "3"})
	got := readN(t, w, walimpls.DeliverAll(), 1)
	if v, _ := got[0].Properties().Get(message.ReservedPropertyPrefix + "term"); v != "3" {
		t.Fatalf("reserved adaptor property lost: %v", got[0].Properties())
	}
}

// Truncate moves the durable subscription: a consumer of it starts after id.
func TestTruncateAcknowledgesSubscription(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "trunc", walimpls.ReadWrite)
	var ids []message.MessageID
	for i := range 5 {
		ids = append(ids, mustAppend(t, w, fmt.Sprint("m", i), nil))
	}
	if err := w.Truncate(context.Background(), ids[2]); err != nil {
		t.Fatal(err)
	}
	c := rawClient(t, b)
	cons, err := c.Subscribe(pc.ConsumerOptions{Topic: topicPrefix + "trunc", SubscriptionName: "mqwal-truncate", Type: pc.Exclusive})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := cons.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Payload()) != "m3" {
		t.Fatalf("subscription resumes at %q, want m3", m.Payload())
	}
	// Logical truncation: everything is still readable, gap-free.
	if got := readN(t, w, walimpls.DeliverAll(), 5); payloads(got) != "m0 m1 m2 m3 m4 " {
		t.Fatalf("DeliverAll after Truncate: %q", payloads(got))
	}
}

func TestBuildValidatesOptions(t *testing.T) {
	for name, opt := range map[string]pulsar.Option{
		"url scheme":        pulsar.WithURL("http://x"),
		"empty url":         pulsar.WithURL(""),
		"tenant":            pulsar.WithTenant("a/b"),
		"namespace":         pulsar.WithNamespace(""),
		"prefix":            pulsar.WithTopicPrefix("x/"),
		"operation timeout": pulsar.WithOperationTimeout(0),
		"max message size":  pulsar.WithMaxMessageSize(-1),
		"in flight":         pulsar.WithMaxInFlight(0),
		"subscription":      pulsar.WithTruncateSubscription(""),
	} {
		if _, err := pulsar.NewBuilder(opt).Build(); !errors.Is(err, walimpls.ErrInvalidArgument) {
			t.Errorf("%s: Build = %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestEnvOverridesURL(t *testing.T) {
	b := startBroker(t)
	t.Setenv(pulsar.EnvURL, b.URL())
	o, err := pulsar.NewBuilder(pulsar.WithURL("pulsar://127.0.0.1:1")).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "env"}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mustAppend(t, w, "via env", nil)
	if n := b.NumMessages(topicPrefix + "env"); n != 1 {
		t.Fatalf("broker from %s holds %d messages", pulsar.EnvURL, n)
	}
}

func TestTopicPrefixTenantNamespace(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "ch", walimpls.ReadWrite, pulsar.WithTenant("t1"), pulsar.WithNamespace("ns1"), pulsar.WithTopicPrefix("app-"))
	mustAppend(t, w, "x", nil)
	if n := b.NumMessages("persistent://t1/ns1/app-ch"); n != 1 {
		t.Fatalf("topic persistent://t1/ns1/app-ch holds %d messages", n)
	}
}

// openOrFenced opens ch with term and returns the WAL, or nil if Open
// itself refused with ErrFenced.
func openOrFenced(t testing.TB, b *pulsartest.Broker, ch string, term int64, opts ...pulsar.Option) walimpls.WALImpls {
	t.Helper()
	o, err := builder(b, opts...).Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: term}})
	if errors.Is(err, walimpls.ErrFenced) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// A writer whose term is below one stored in or holding the channel is
// fenced: at Open, or at its first Append if the higher term came later.
func TestLowerTermIsFenced(t *testing.T) {
	b := startBroker(t)
	high := openOrFenced(t, b, "terms", 2)
	mustAppend(t, high, "term2", nil)
	if low := openOrFenced(t, b, "terms", 1); low != nil {
		t.Fatal("Open with a lower term while the higher one holds the channel succeeded")
	}
	high.Close()
	if low := openOrFenced(t, b, "terms", 1); low != nil {
		t.Fatal("Open with a lower term after the higher one wrote succeeded")
	}
	// A lower term opened first, then overtaken before its first Append.
	low := openOrFenced(t, b, "terms2", 1)
	higher := openOrFenced(t, b, "terms2", 2)
	msg := message.NewMutableMessage([]byte("stale"), nil)
	for range 2 {
		if _, err := low.Append(context.Background(), msg); !errors.Is(err, walimpls.ErrFenced) {
			t.Fatalf("Append by the overtaken lower term: %v, want ErrFenced", err)
		}
	}
	mustAppend(t, higher, "term2", nil)
	if got := readN(t, higher, walimpls.DeliverAll(), 1); payloads(got) != "term2 " {
		t.Fatalf("channel holds %q", payloads(got))
	}
}

// A higher term takes the channel from a live lower-term writer: appends
// the old writer made before are kept, its later ones fail with ErrFenced,
// and the log stays linear.
func TestTakeoverFencesLiveWriter(t *testing.T) {
	b := startBroker(t)
	old := openOrFenced(t, b, "takeover", 1)
	before := mustAppend(t, old, "old", nil)
	owner := openOrFenced(t, b, "takeover", 2)
	if owner == nil {
		t.Fatal("higher term was fenced")
	}
	if _, err := old.Append(context.Background(), message.NewMutableMessage([]byte("zombie"), nil)); !errors.Is(err, walimpls.ErrFenced) {
		t.Fatalf("old writer after takeover: %v, want ErrFenced", err)
	}
	after := mustAppend(t, owner, "new", nil)
	got := readN(t, owner, walimpls.DeliverAll(), 2)
	if payloads(got) != "old new " || !got[0].MessageID().EQ(before) || !got[1].MessageID().EQ(after) {
		t.Fatalf("channel holds %q", payloads(got))
	}
}

// A holder that does not take part in the protocol (a plain producer) is
// not waited for longer than the operation timeout: Open succeeds and
// Append reports the busy topic as retryable.
func TestOpenBesideForeignHolder(t *testing.T) {
	b := startBroker(t)
	c := rawClient(t, b)
	p, err := c.CreateProducer(pc.ProducerOptions{Topic: topicPrefix + "held", ProducerAccessMode: pc.ProducerAccessModeExclusive, SendTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	start := time.Now()
	w := openOrFenced(t, b, "held", 5, pulsar.WithOperationTimeout(time.Second))
	if w == nil {
		t.Fatal("fenced by a foreign producer")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("Open waited %v", d)
	}
	if _, err := w.Append(context.Background(), message.NewMutableMessage(nil, nil)); !walimpls.IsRetryable(err) {
		t.Fatalf("Append beside a foreign exclusive producer: %v, want retryable", err)
	}
}
