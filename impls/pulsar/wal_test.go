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
	"github.com/mqwal/mqwal/walimpls/walimplstest"
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

// namedProducer is a shared producer with the given name, batching off;
// with the driver's name ("mqwal-writer") it forges the driver's messages.
func namedProducer(t testing.TB, c pc.Client, topic, name string) pc.Producer {
	t.Helper()
	p, err := c.CreateProducer(pc.ProducerOptions{Topic: topic, Name: name, DisableBatching: true, SendTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// openChannel opens ch on a new opener for b (both closed with the test)
// and returns Open's result.
func openChannel(t testing.TB, b *pulsartest.Broker, ch string, term int64, mode walimpls.AccessMode, opts ...pulsar.Option) (walimpls.WALImpls, error) {
	t.Helper()
	o, err := builder(b, opts...).Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: term, AccessMode: mode}})
	if err == nil {
		t.Cleanup(w.Close)
	}
	return w, err
}

func openWAL(t testing.TB, b *pulsartest.Broker, ch string, mode walimpls.AccessMode, opts ...pulsar.Option) walimpls.WALImpls {
	t.Helper()
	w, err := openChannel(t, b, ch, 1, mode, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// appendN appends payloads m<from>..m<from+n-1> and returns their IDs.
func appendN(t testing.TB, w walimpls.WALImpls, from, n int) []message.MessageID {
	t.Helper()
	ids := make([]message.MessageID, 0, n)
	for i := from; i < from+n; i++ {
		ids = append(ids, mustAppend(t, w, fmt.Sprint("m", i), nil))
	}
	return ids
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
	return walimplstest.ReadN(t, w, p, n, 200*time.Millisecond)
}

func payloads(msgs []message.ImmutableMessage) string {
	s := ""
	for _, m := range msgs {
		s += string(m.Payload()) + " "
	}
	return s
}

// Truncate moves the durable subscription up to id: a consumer of it
// starts at id, which stays stored as the scanners' resume point.
func TestTruncateAcknowledgesSubscription(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "trunc", walimpls.ReadWrite)
	ids := appendN(t, w, 0, 5)
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
	if string(m.Payload()) != "m2" {
		t.Fatalf("subscription resumes at %q, want m2", m.Payload())
	}
	// Logical truncation: everything is still readable, gap-free.
	if got := readN(t, w, walimpls.DeliverAll(), 5); payloads(got) != "m0 m1 m2 m3 m4 " {
		t.Fatalf("DeliverAll after Truncate: %q", payloads(got))
	}
}

func TestTruncateBeyondEndIsRefused(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "trunc-end", walimpls.ReadWrite)
	// The channel holds only the writer's claim, at 1:0:0.
	if err := w.Truncate(context.Background(), pulsar.NewID(1, 1, 0)); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Fatalf("Truncate of a channel without messages: %v, want ErrInvalidArgument", err)
	}
	id := mustAppend(t, w, "x", nil).(pulsar.ID)
	if err := w.Truncate(context.Background(), pulsar.NewID(id.Ledger, id.Entry+1, 0)); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Fatalf("Truncate beyond the last message: %v, want ErrInvalidArgument", err)
	}
	if err := w.Truncate(context.Background(), id); err != nil {
		t.Fatalf("Truncate to the last message: %v", err)
	}
}

// Close never hangs, also with the broker gone and appends in flight.
func TestCloseWithBrokerGone(t *testing.T) {
	b := startBroker(t)
	o, err := builder(b, pulsar.WithOperationTimeout(time.Second)).Build()
	if err != nil {
		t.Fatal(err)
	}
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "gone", Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, w, "a", nil)
	s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	appended := make(chan error, 1)
	go func() {
		_, err := w.Append(context.Background(), message.NewMutableMessage([]byte("b"), nil))
		appended <- err
	}()
	closed := make(chan struct{})
	start := time.Now()
	go func() { o.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		t.Fatal("opener Close hung with the broker gone")
	}
	t.Logf("Close took %v", time.Since(start))
	select {
	case err := <-appended:
		if err == nil {
			t.Fatal("Append succeeded with the broker gone")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Append still blocked after Close")
	}
	<-s.Done()
	if !errors.Is(s.Error(), walimpls.ErrClosed) {
		t.Fatalf("scanner ended with %v", s.Error())
	}
}
