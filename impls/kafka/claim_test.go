package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// sameTermRace opens channel ch with one term from n goroutines at once,
// spread over openers, and appends up to ten messages on each WAL that opened;
// then it reads the log back and checks the history: every acked append
// read back exactly once at its acked offset, no offset acked twice, and
// no append that failed as "not stored" in the log.
func sameTermRace(t *testing.T, openers []walimpls.OpenerImpls, ch string, n int) {
	t.Helper()
	h := walimplstest.NewHistory()
	var mu sync.Mutex
	var failed []*walimplstest.Attempt
	opened := 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			w, err := openers[i%len(openers)].Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1, AccessMode: walimpls.ReadWrite}})
			if err != nil {
				if !errors.Is(err, walimpls.ErrFenced) && !walimpls.IsRetryable(err) {
					t.Errorf("Open %d: %v, want success, ErrFenced or a retryable error", i, err)
				}
				return
			}
			defer w.Close()
			mu.Lock()
			opened++
			mu.Unlock()
			for seq := range 10 {
				a, msg := h.NewAttempt(ch, fmt.Sprint("w", i), seq)
				id, err := w.Append(ctx, msg)
				h.Done(a, id, err)
				if err != nil {
					if !errors.Is(err, walimpls.ErrOutcomeUnknown) {
						mu.Lock()
						failed = append(failed, a)
						mu.Unlock()
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	if opened == 0 {
		t.Fatal("no Open succeeded")
	}
	// A higher term's end marker: a reader that has seen it has seen
	// everything stored before.
	end := open(t, openers[0], ch, 2, walimpls.ReadWrite)
	mustAppend(t, end, "end", nil)
	s, err := end.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stored := map[string]int{}
	deadline := time.After(20 * time.Second)
	for done := false; !done; {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				t.Fatalf("scanner ended: %v", s.Error())
			}
			if string(m.Payload()) == "end" {
				done = true
				break
			}
			h.Delivered("reader", ch, m)
			tag, _ := m.Properties().Get(walimplstest.TagProperty)
			stored[tag]++
		case <-deadline:
			t.Fatal("the end marker never came")
		}
	}
	for _, p := range h.Check("reader") {
		t.Error(p)
	}
	for _, a := range failed {
		if stored[a.Tag] > 0 {
			t.Errorf("append %s failed with %v (not stored) but is in the log", a.Tag, a.Err)
		}
	}
	t.Logf("%d of %d opens succeeded, %d appends acked, %d failed as not stored", opened, n, h.Acked(), len(failed))
}

func TestConcurrentSameTermOpensInOneOpener(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	sameTermRace(t, []walimpls.OpenerImpls{o}, channelName(t), 100)
}

func TestConcurrentSameTermOpensAcrossOpeners(t *testing.T) {
	c := startCluster(t)
	var openers []walimpls.OpenerImpls
	for range 5 {
		openers = append(openers, newOpener(t, c))
	}
	sameTermRace(t, openers, channelName(t), 100)
}

// TestAppendAfterSameTermReopenElsewhereIsFenced: a second process that
// opens the channel with the same term takes it over; the first one's next
// append must fail (not be acknowledged with the other's offset).
func TestAppendAfterSameTermReopenElsewhereIsFenced(t *testing.T) {
	c := startCluster(t)
	ch := channelName(t)
	w1 := open(t, newOpener(t, c), ch, 1, walimpls.ReadWrite)
	mustAppend(t, w1, "one", nil)
	w2 := open(t, newOpener(t, c), ch, 1, walimpls.ReadWrite)
	_, err := w1.Append(context.Background(), message.NewMutableMessage([]byte("stale"), nil))
	if !errors.Is(err, walimpls.ErrFenced) {
		t.Fatalf("append by the older same-term WAL: %v, want ErrFenced", err)
	}
	mustAppend(t, w2, "two", nil)
	msgs := readN(t, w2, walimpls.DeliverAll(), 2)
	if string(msgs[0].Payload()) != "one" || string(msgs[1].Payload()) != "two" {
		t.Fatalf("log %q %q, want one two", msgs[0].Payload(), msgs[1].Payload())
	}
}
