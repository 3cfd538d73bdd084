package adaptor_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, pulsarLeak) }

var channelSeq atomic.Int64

// newChannel returns a channel name no other test uses.
func newChannel(t testing.TB) string {
	return fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e6, channelSeq.Add(1))
}

// memoryOpener builds an adapted opener over an isolated memory store.
func memoryOpener(t testing.TB, store *memory.Store, opts ...adaptor.Option) wal.Opener {
	t.Helper()
	if store == nil {
		store = memory.NewStore()
	}
	o, err := adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(store)), opts...).Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

func open(t testing.TB, o wal.Opener, name string, term int64, mode wal.AccessMode) wal.WAL {
	t.Helper()
	w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: name, Term: term, AccessMode: mode}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

func payload(i int) []byte { return []byte(fmt.Sprintf("m%06d", i)) }

func appendN(t testing.TB, w wal.WAL, from, n int) []message.MessageID {
	t.Helper()
	ids := make([]message.MessageID, 0, n)
	for i := from; i < from+n; i++ {
		res, err := w.Append(context.Background(), message.NewMutableMessage(payload(i), message.Properties{"i": fmt.Sprint(i)}))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		ids = append(ids, res.MessageID)
	}
	return ids
}

// recv waits for the next message or fails the test after timeout.
func recv(t testing.TB, s wal.Scanner, timeout time.Duration) message.ImmutableMessage {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case m, ok := <-s.Chan():
		if !ok {
			t.Fatalf("scanner %q ended early: %v", s.Name(), s.Error())
		}
		return m
	case <-timer.C:
		t.Fatalf("scanner %q: no message within %v", s.Name(), timeout)
	}
	return nil
}

// expectNone checks that nothing arrives within d and that the scanner is
// still running: a scanner that ended is not quiet, it may have stopped
// at a message it owed.
func expectNone(t testing.TB, s wal.Scanner, d time.Duration) {
	t.Helper()
	if err := quiet(s, d); err != nil {
		t.Fatal(err)
	}
}

// quiet is expectNone's check, returned as an error so that it can be
// tested on a scanner that ends.
func quiet(s wal.Scanner, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case m, ok := <-s.Chan():
		if !ok {
			return fmt.Errorf("scanner %q ended (error %w) instead of staying quiet", s.Name(), s.Error())
		}
		return fmt.Errorf("scanner %q: unexpected message %q %v", s.Name(), m.Payload(), m.Properties())
	case <-timer.C:
		return nil
	}
}
