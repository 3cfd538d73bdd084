package pulsar_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// A zombie writer: term 1 loses its connection with appends in flight (the
// first stored, its receipt lost; the others never stored) and cannot
// reconnect; term 2 takes the channel, appends and closes; then term 1's
// client reconnects and resends. A real broker (2.8+) fences the reconnect
// through the topic epoch; a broker without exclusive producers (before
// 2.8) takes it, and with deduplication answers the resends that are below
// term 2's sequence ids as duplicates (-1:-1). In every case the zombie's
// appends either fail (ErrFenced, ErrOutcomeUnknown) or are acknowledged
// with their own position, readable by every scanner: never with term 2's
// message, never acknowledged but invisible, and a message reported as not
// stored is not in the log.
func TestZombieWriterAfterHandOver(t *testing.T) {
	if raceDetector {
		t.Skip("reconnects: run by TestFaultsWithoutRaceDetector in a plain build (pulsar-client-go v0.19.0 races on reconnect)")
	}
	for _, fence := range []bool{true, false} {
		for _, dedup := range []bool{true, false} {
			// Term 2 appends fewer messages than term 1 has in flight, or more.
			for _, owned := range []int{1, 3} {
				name := fmt.Sprintf("EpochFence=%v/Dedup=%v/Term2Appends=%d", fence, dedup, owned)
				t.Run(name, func(t *testing.T) {
					b := startBroker(t, pulsartest.WithDeduplication(dedup), pulsartest.WithExclusiveProducers(fence))
					zombieCase(t, b, owned)
					// Fencing is strict (no lower term's message stored after a
					// higher term's) unless the broker neither fences the
					// reconnect nor deduplicates: then the zombie's messages are
					// stored, and every scanner drops them.
					if stale := storedAfterHigherTerm(t, b, topicPrefix+"zombie"); len(stale) > 0 && (fence || dedup) {
						t.Errorf("stored after a higher term's message: %v", stale)
					}
				})
			}
		}
	}
}

// storedAfterHigherTerm lists the messages of topic stored after a message
// of a higher term, read with a plain reader.
func storedAfterHigherTerm(t *testing.T, b *pulsartest.Broker, topic string) []string {
	t.Helper()
	r, err := rawClient(t, b).CreateReader(pc.ReaderOptions{Topic: topic, StartMessageID: pc.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var stale []string
	high := int64(-1)
	for range b.NumMessages(topic) {
		m, err := r.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		term, err := strconv.ParseInt(m.Properties()[pulsar.TermProperty], 10, 64)
		if err != nil {
			t.Fatalf("message %v without a term: %v", m.ID(), m.Properties())
		}
		if term < high {
			stale = append(stale, fmt.Sprintf("%s@%v", m.Properties()[walimplstest.TagProperty], m.ID()))
		}
		high = max(high, term)
	}
	return stale
}

func zombieCase(t *testing.T, b *pulsartest.Broker, owned int) {
	const ch = "zombie"
	topic := topicPrefix + ch
	h := walimplstest.NewHistory()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	var attempts []*walimplstest.Attempt
	appendH := func(w walimpls.WALImpls, appender string, seq int) (*walimplstest.Attempt, error) {
		a, msg := h.NewAttempt(ch, appender, seq)
		id, err := w.Append(ctx, msg)
		h.Done(a, id, err)
		mu.Lock()
		attempts = append(attempts, a)
		mu.Unlock()
		return a, err
	}

	zombie := openOrFenced(t, b, ch, 1)
	if _, err := appendH(zombie, "A", 0); err != nil {
		t.Fatal(err)
	}
	// The partition: the first message term 1 stores loses its receipt and
	// connection, and its producer cannot come back until healed.
	var partitioned, cut atomic.Bool
	partitioned.Store(true)
	b.SetStoreHook(func(m pulsartest.StoredMessage) bool {
		return m.Topic == topic && partitioned.Load() && cut.CompareAndSwap(false, true)
	})
	b.SetProducerHook(func(r pulsartest.ProducerRequest) error {
		if r.Topic == topic && r.TopicEpoch >= 0 && partitioned.Load() {
			return errors.New("partitioned")
		}
		return nil
	})
	results := make(chan error, 3)
	for i := 1; i <= 3; i++ {
		go func() {
			_, err := appendH(zombie, "A", i)
			results <- err
		}()
	}
	waitUntil(t, "the zombie's connection cut", cut.Load)

	owner := openOrFenced(t, b, ch, 2)
	if owner == nil {
		t.Fatal("term 2 was fenced")
	}
	for i := range owned {
		if _, err := appendH(owner, "B", i); err != nil {
			t.Fatalf("term 2 append %d: %v", i, err)
		}
	}
	owner.Close()
	partitioned.Store(false) // the zombie's client reconnects and resends

	for range 3 {
		select {
		case err := <-results:
			if err != nil && !errors.Is(err, walimpls.ErrFenced) && !errors.Is(err, walimpls.ErrOutcomeUnknown) {
				t.Errorf("zombie append failed with %v, want ErrFenced or ErrOutcomeUnknown", err)
			}
		case <-ctx.Done():
			t.Fatal("zombie appends still pending after the partition healed")
		}
	}
	next := openOrFenced(t, b, ch, 3)
	if _, err := appendH(next, "C", 0); err != nil {
		t.Fatalf("term 3 append: %v", err)
	}

	// Every scanner, from the start or resuming after any position, sees the
	// same log.
	r := openWAL(t, b, ch, walimpls.ReadOnly)
	all := readUntil(t, r, walimpls.DeliverAll(), isTag(ch+"/C/0"))
	for _, m := range all {
		h.Delivered("all", ch, m)
	}
	for i, m := range all[:len(all)-1] {
		suffix := readUntil(t, r, walimpls.StartAfter(m.MessageID()), isTag(ch+"/C/0"))
		if got, want := tags(suffix), tags(all[i+1:]); got != want {
			t.Errorf("StartAfter(%v) delivered %s, from the start the rest is %s", m.MessageID(), got, want)
		}
	}
	// Scanners deliver no lower term's message after a higher term's (the
	// appenders A, B, C are terms 1, 2, 3): what makes the adaptor's read
	// fence the same for a scanner that starts after the fence record.
	high := ""
	for _, m := range all {
		tag, _ := m.Properties().Get(walimplstest.TagProperty)
		appender := strings.Split(tag, "/")[1]
		if appender < high {
			t.Errorf("%s delivered after a message of a higher term (%s)", tag, high)
		}
		high = max(high, appender)
	}
	problems := h.Check("all")
	delivered := map[string]bool{}
	for _, m := range all {
		tag, _ := m.Properties().Get(walimplstest.TagProperty)
		delivered[tag] = true
	}
	acked := map[string]string{}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range attempts {
		{
			switch {
			case a.ID != nil:
				if other, dup := acked[a.ID.Marshal()]; dup {
					t.Errorf("%s and %s acknowledged with the same ID %v", other, a.Tag, a.ID)
				}
				acked[a.ID.Marshal()] = a.Tag
			case a.Err != nil && !errors.Is(a.Err, walimpls.ErrOutcomeUnknown) && delivered[a.Tag]:
				t.Errorf("%s reported as not stored (%v) but delivered", a.Tag, a.Err)
			}
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
	for _, a := range attempts {
		t.Logf("%s: id %v, err %v", a.Tag, a.ID, a.Err)
	}
	t.Logf("log: %s", tags(all))
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isTag(tag string) func(message.ImmutableMessage) bool {
	return func(m message.ImmutableMessage) bool {
		got, _ := m.Properties().Get(walimplstest.TagProperty)
		return got == tag
	}
}

// readUntil reads from p until a message for which last is true arrives.
func readUntil(t *testing.T, w walimpls.ROWALImpls, p walimpls.DeliverPolicy, last func(message.ImmutableMessage) bool) []message.ImmutableMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: p})
	if err != nil {
		t.Fatalf("Read(%v): %v", p, err)
	}
	defer s.Close()
	var got []message.ImmutableMessage
	for {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				t.Fatalf("Read(%v) ended after %s: %v", p, tags(got), s.Error())
			}
			got = append(got, m)
			if last(m) {
				return got
			}
		case <-ctx.Done():
			t.Fatalf("Read(%v): only %s before the deadline", p, tags(got))
		}
	}
}

func tags(msgs []message.ImmutableMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		tag, _ := m.Properties().Get(walimplstest.TagProperty)
		fmt.Fprintf(&b, "%s@%v ", tag, m.MessageID())
	}
	return b.String()
}
