package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

var testSeq int

// channelName is unique per call, so tests sharing a cluster never collide.
func channelName(t testing.TB) string {
	testSeq++
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), testSeq)
}

func open(t testing.TB, o walimpls.OpenerImpls, ch string, term int64, mode walimpls.AccessMode) walimpls.WALImpls {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: term, AccessMode: mode}})
	if err != nil {
		t.Fatalf("Open(%s, term %d): %v", ch, term, err)
	}
	t.Cleanup(w.Close)
	return w
}

func mustAppend(t testing.TB, w walimpls.WALImpls, payload string, props message.Properties) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := w.Append(ctx, message.NewMutableMessage([]byte(payload), props))
	if err != nil {
		t.Fatalf("Append(%q): %v", payload, err)
	}
	return id.(helper.Int64ID).Value()
}

// readN reads n messages from policy p and then expects quiet for a moment.
func readN(t testing.TB, w walimpls.ROWALImpls, p walimpls.DeliverPolicy, n int) []message.ImmutableMessage {
	t.Helper()
	return walimplstest.ReadN(t, w, p, n, 300*time.Millisecond)
}

func offsets(msgs []message.ImmutableMessage) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.MessageID().(helper.Int64ID).Value()
	}
	return out
}

// TestResentAppendReturnsOriginalOffset loses the broker's answer to a
// stored produce: the driver resends the same bytes and the broker answers
// the duplicate with the original offset, so the append succeeds once.
func TestResentAppendReturnsOriginalOffset(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	ch := channelName(t)
	w := open(t, o, ch, 1, walimpls.ReadWrite)
	first := mustAppend(t, w, "before", nil)

	for _, fault := range []struct {
		name string
		arm  func()
	}{
		{"connection closed after the broker stored the batch", func() {
			if err := c.DropNextResponse(kmsg.Produce, 1); err != nil {
				t.Fatal(err)
			}
		}},
		{"REQUEST_TIMED_OUT after the broker stored the batch", func() {
			c.FailRequests(kmsg.Produce, "", kerr.RequestTimedOut, 1)
		}},
	} {
		_, end, err := o.(*opener).client.offsets(context.Background(), o.(*opener).topic(ch))
		if err != nil {
			t.Fatal(err)
		}
		fault.arm()
		got := mustAppend(t, w, fault.name, nil)
		if got != end {
			t.Errorf("%s: append got offset %d, want %d (the offset the first attempt stored)", fault.name, got, end)
		}
		if _, end2, _ := o.(*opener).client.offsets(context.Background(), o.(*opener).topic(ch)); end2 != end+1 {
			t.Errorf("%s: log end moved from %d to %d: the resend was stored again", fault.name, end, end2)
		}
	}
	if n := c.DropsPending(); n != 0 {
		t.Fatalf("%d armed response drops never fired", n)
	}
	msgs := readN(t, w, walimpls.DeliverAll(), 3)
	if got := offsets(msgs); got[0] != first {
		t.Errorf("offsets %v, want to start at %d", got, first)
	}
}

func TestFencingAcrossOpenersAndRestart(t *testing.T) {
	c := startCluster(t)
	ch := channelName(t)
	w1 := open(t, newOpener(t, c), ch, 3, walimpls.ReadWrite)
	mustAppend(t, w1, "t3", nil)
	if err := c.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The broker kept the producer's epoch and sequence across the restart.
	mustAppend(t, w1, "t3 after restart", nil)
	w2 := open(t, newOpener(t, c), ch, 4, walimpls.ReadWrite)
	_, err := w1.Append(context.Background(), message.NewMutableMessage([]byte("zombie"), nil))
	if !errors.Is(err, walimpls.ErrFenced) || !errors.Is(err, kafkaInvalidEpoch) {
		t.Fatalf("Append by term 3 after term 4 opened: %v, want ErrFenced caused by INVALID_PRODUCER_EPOCH", err)
	}
	if _, err := w1.Append(context.Background(), message.NewMutableMessage([]byte("zombie"), nil)); !errors.Is(err, walimpls.ErrFenced) {
		t.Fatalf("second Append by the fenced WAL: %v, want ErrFenced", err)
	}
	_, err = newOpener(t, c).Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 2}})
	if !errors.Is(err, walimpls.ErrFenced) {
		t.Fatalf("Open with term 2 after term 4: %v, want ErrFenced", err)
	}
	mustAppend(t, w2, "t4", nil)
	// Same-term reopen by another process continues the sequence.
	w2.Close()
	w3 := open(t, newOpener(t, c), ch, 4, walimpls.ReadWrite)
	mustAppend(t, w3, "t4 again", nil)
	msgs := readN(t, w3, walimpls.DeliverAll(), 4)
	for i, want := range []string{"t3", "t3 after restart", "t4", "t4 again"} {
		if string(msgs[i].Payload()) != want {
			t.Errorf("message %d = %q, want %q", i, msgs[i].Payload(), want)
		}
	}
}

func TestSameTermReopenInOneOpenerFencesTheOlder(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	ch := channelName(t)
	w1 := open(t, o, ch, 1, walimpls.ReadWrite)
	mustAppend(t, w1, "a", nil)
	w2 := open(t, o, ch, 1, walimpls.ReadWrite)
	if _, err := w1.Append(context.Background(), message.NewMutableMessage([]byte("x"), nil)); !errors.Is(err, walimpls.ErrFenced) {
		t.Fatalf("older same-term WAL: %v, want ErrFenced", err)
	}
	mustAppend(t, w2, "b", nil)
	readN(t, w2, walimpls.DeliverAll(), 2)
}

func TestTermRange(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	ch := channelName(t)
	_, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: MaxTerm + 1}})
	if !errors.Is(err, walimpls.ErrInvalidArgument) || !strings.Contains(err.Error(), "term") {
		t.Fatalf("Open with term MaxTerm+1: %v, want ErrInvalidArgument naming the term", err)
	}
	// ReadOnly WALs do not write, so any term is fine.
	createTopic(t, o, ch)
	open(t, o, ch, MaxTerm+1, walimpls.ReadOnly)
	w0 := open(t, o, ch, 0, walimpls.ReadWrite)
	mustAppend(t, w0, "term 0", nil)
	wMax := open(t, o, ch, MaxTerm, walimpls.ReadWrite)
	mustAppend(t, wMax, "max term", nil)
	if _, err := w0.Append(context.Background(), message.NewMutableMessage(nil, nil)); !errors.Is(err, walimpls.ErrFenced) {
		t.Fatalf("term 0 after MaxTerm: %v, want ErrFenced", err)
	}
}

// TestProducerStateLostResyncs: a broker that forgot the producer or
// disagrees on its sequence refuses the batch (nothing stored); the append
// fails retryably and the next one continues from the log.
func TestProducerStateLostResyncs(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	ch := channelName(t)
	w := open(t, o, ch, 1, walimpls.ReadWrite)
	mustAppend(t, w, "one", nil)
	for _, code := range []*kerr.Error{kerr.UnknownProducerID, kerr.OutOfOrderSequenceNumber} {
		c.FailRequests(kmsg.Produce, "", code, 1)
		_, err := w.Append(context.Background(), message.NewMutableMessage([]byte("refused"), nil))
		if !walimpls.IsRetryable(err) {
			t.Fatalf("Append refused with %v: %v, want a retryable error", code, err)
		}
		mustAppend(t, w, "after "+code.Message, nil)
	}
	msgs := readN(t, w, walimpls.DeliverAll(), 3)
	for _, m := range msgs {
		if string(m.Payload()) == "refused" {
			t.Fatalf("a refused append was stored: %v", offsets(msgs))
		}
	}
}

func TestUnavailableIsRetryableAndWritesNothing(t *testing.T) {
	c := startCluster(t)
	o, err := NewBuilder(WithConfig(Config{Brokers: c.Addrs(), WriteTimeout: 300 * time.Millisecond})).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ch := channelName(t)
	w := open(t, o, ch, 1, walimpls.ReadWrite)
	h := c.FailRequests(kmsg.Produce, "", kerr.NotEnoughReplicas, -1)
	_, err = w.Append(context.Background(), message.NewMutableMessage([]byte("x"), nil))
	h.Remove()
	if !errors.Is(err, walimpls.ErrUnavailable) || !walimpls.IsRetryable(err) {
		t.Fatalf("Append while the broker refuses: %v, want retryable ErrUnavailable", err)
	}
	mustAppend(t, w, "y", nil)
	if msgs := readN(t, w, walimpls.DeliverAll(), 1); string(msgs[0].Payload()) != "y" {
		t.Fatalf("got %q", msgs[0].Payload())
	}
}

func TestAppendWithCancelledContextWhileUnansweredIsOutcomeUnknown(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	// Hold the next produce request in the broker until Append has
	// returned, so the outcome is unknown by construction: no answer can
	// race the ctx deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	returned := make(chan struct{})
	kc := c.Kfake()
	var held atomic.Bool
	kc.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		held.Store(true)
		kc.SleepControl(func() { <-returned })
		return nil, nil, false
	})
	_, err := w.Append(ctx, message.NewMutableMessage([]byte("slow"), nil))
	close(returned)
	if !held.Load() {
		t.Fatalf("the produce request never reached the broker's hook (Append: %v)", err)
	}
	if !errors.Is(err, walimpls.ErrOutcomeUnknown) || walimpls.IsRetryable(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append whose ctx ended in flight: %v, want ErrOutcomeUnknown wrapping the deadline", err)
	}
	// The batch still lands exactly once, before what follows.
	next := mustAppend(t, w, "next", nil)
	msgs := readN(t, w, walimpls.DeliverAll(), 2)
	if string(msgs[0].Payload()) != "slow" || offsets(msgs)[1] != next {
		t.Fatalf("log after an unknown outcome: %v %q", offsets(msgs), msgs[0].Payload())
	}
}

func TestScannerTruncatedWhileBehindIsOutOfRange(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	// Large messages, so one fetch (4 MiB) cannot hold them all and the
	// scanner must fetch again below the new log start.
	big := strings.Repeat("x", 900<<10)
	var last message.MessageID
	for range 10 {
		last = helper.NewInt64ID(Name, mustAppend(t, w, big, nil))
	}
	s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll(), ReadAheadBufferSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	<-s.Chan() // the scanner is now behind
	if err := w.Truncate(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	n := 1
	for {
		select {
		case _, ok := <-s.Chan():
			if !ok {
				if !errors.Is(s.Error(), walimpls.ErrOutOfRange) {
					t.Fatalf("scanner ended with %v, want ErrOutOfRange", s.Error())
				}
				if n >= 10 {
					t.Fatalf("scanner delivered all %d messages before failing; the test did not make it fetch below the log start", n)
				}
				return
			}
			n++
		case <-deadline:
			t.Fatalf("scanner neither failed nor ended after the truncation (%d delivered)", n)
		}
	}
}

func TestDisableCreateTopics(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c, WithConfig(Config{Brokers: c.Addrs(), DisableCreateTopics: true, TopicPrefix: "managed."}))
	ch := channelName(t)
	_, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}})
	if !errors.Is(err, walimpls.ErrInvalidArgument) || !strings.Contains(err.Error(), "managed."+ch) {
		t.Fatalf("Open of a missing topic: %v, want ErrInvalidArgument naming the topic", err)
	}
	// Once someone creates it, Open works.
	if err := newOpener(t, c).(*opener).client.openTopic(context.Background(), "managed."+ch, ch, walimpls.ReadWrite); err != nil {
		t.Fatal(err)
	}
	w := open(t, o, ch, 1, walimpls.ReadWrite)
	mustAppend(t, w, "x", nil)
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no brokers":      {},
		"broker no port":  {Brokers: []string{"localhost"}},
		"bad prefix":      {Brokers: []string{"h:1"}, TopicPrefix: "a/b"},
		"negative rf":     {Brokers: []string{"h:1"}, ReplicationFactor: -1},
		"bad sasl":        {Brokers: []string{"h:1"}, SASL: &SASLConfig{Mechanism: "GSSAPI", Username: "u"}},
		"sasl no user":    {Brokers: []string{"h:1"}, SASL: &SASLConfig{Mechanism: SASLPlain}},
		"missing ca file": {Brokers: []string{"h:1"}, TLSFiles: &TLSFiles{CAFile: "/nonexistent/ca.pem"}},
		"tiny max bytes":  {Brokers: []string{"h:1"}, MaxMessageBytes: 10},
		"negative expiry": {Brokers: []string{"h:1"}, ProducerIDExpiration: -1},
		"negative queue":  {Brokers: []string{"h:1"}, MaxQueuedAppends: -1},
		"negative qbytes": {Brokers: []string{"h:1"}, MaxQueuedBytes: -1},
	} {
		if _, err := NewBuilder(WithConfig(cfg)).Build(); !errors.Is(err, walimpls.ErrInvalidArgument) {
			t.Errorf("%s: Build: %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestMaxMessageSizeFromBroker(t *testing.T) {
	c := startCluster(t, kafkatest.WithMaxMessageBytes(64<<10))
	o := newOpener(t, c)
	if got, want := o.Capabilities().MaxMessageSize, 64<<10-batchReserve; got != want {
		t.Fatalf("MaxMessageSize %d, want %d (broker limit minus batch reserve)", got, want)
	}
	w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	// Many small headers: within EstimateSize, beyond the broker limit once framed.
	props := message.Properties{}
	for i := range 4000 {
		props[fmt.Sprintf("k%04d", i)] = ""
	}
	payload := strings.Repeat("x", o.Capabilities().MaxMessageSize-props.Size())
	_, err := w.Append(context.Background(), message.NewMutableMessage([]byte(payload), props))
	if !errors.Is(err, walimpls.ErrMessageTooLarge) {
		t.Fatalf("Append of a message whose framing crosses the broker limit: %v, want ErrMessageTooLarge", err)
	}
}

// TestCloseEndsAnInlineAppend: Close must not wait for an append that
// carries no deadline of its own.
func TestCloseEndsAnInlineAppend(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	c.DelayRequests(kmsg.Produce, 3*time.Second, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := w.Append(context.Background(), message.NewMutableMessage([]byte("slow"), nil))
		errc <- err
	}()
	// Wait until the append is on the wire: the delay control holds it.
	deadline := time.Now().Add(5 * time.Second)
	for !o.(*opener).writerOf(w.Channel().Name).busyNow() {
		if time.Now().After(deadline) {
			t.Fatal("append never started")
		}
		time.Sleep(time.Millisecond)
	}
	begin := time.Now()
	w.Close()
	err := <-errc
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("Close took %v with an append in flight", d)
	}
	if !errors.Is(err, walimpls.ErrOutcomeUnknown) && !errors.Is(err, walimpls.ErrClosed) {
		t.Fatalf("in-flight append after Close: %v, want ErrOutcomeUnknown or ErrClosed", err)
	}
}

// TestTruncateEverythingKeepsSameTermReopenable: a Truncate that would
// empty the log first appends a fence record, so a same-term reopen still
// finds the producer's sequence in the log.
func TestTruncateEverythingKeepsSameTermReopenable(t *testing.T) {
	c := startCluster(t)
	ch := channelName(t)
	w := open(t, newOpener(t, c), ch, 2, walimpls.ReadWrite)
	var last int64
	for i := range 3 {
		last = mustAppend(t, w, fmt.Sprint(i), nil)
	}
	if err := w.Truncate(context.Background(), helper.NewInt64ID(Name, last)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.StartFrom(helper.NewInt64ID(Name, last))}); !errors.Is(err, walimpls.ErrOutOfRange) {
		t.Fatalf("StartFrom(truncated) = %v, want ErrOutOfRange", err)
	}
	w.Close()
	w2 := open(t, newOpener(t, c), ch, 2, walimpls.ReadWrite)
	next := mustAppend(t, w2, "after", nil)
	if next <= last {
		t.Fatalf("append after reopen got %d, not after %d", next, last)
	}
	if msgs := readN(t, w2, walimpls.DeliverAll(), 1); string(msgs[0].Payload()) != "after" {
		t.Fatalf("read %q", msgs[0].Payload())
	}
}
