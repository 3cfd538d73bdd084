package rmq

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// heldSyncs holds every fdatasync of the files ending in suffix until the
// test releases it: entered says one started.
type heldSyncs struct {
	entered chan string
	release chan struct{}
	fault   *diskFault
	once    sync.Once
}

func holdSyncs(suffix string) (*heldSyncs, *diskFault) {
	h := &heldSyncs{entered: make(chan string, 16), release: make(chan struct{})}
	f := &diskFault{pick: func(op errorfs.Op) error {
		if isSync(op.Kind) && strings.HasSuffix(op.Path, suffix) {
			h.entered <- op.Path
			<-h.release
		}
		return nil
	}}
	h.fault = f
	return h, f
}

// releaseAll lets every held fdatasync and every later one go.
func (h *heldSyncs) releaseAll() {
	h.once.Do(func() {
		h.fault.on.Store(false)
		close(h.release)
	})
}

func (h *heldSyncs) waitEntered(t *testing.T, what string) {
	t.Helper()
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatalf("no fdatasync started for %s", what)
	}
}

// The committer that leads a group's write and fdatasync returns once its
// own group is done, even while others keep queueing: the next group's
// committers take over. Before, the leader went on until nothing was
// queued, and under 8 busy appenders one append in a few thousand waited
// 50–800 ms (walctl bench's max latency) while fdatasyncs took ~3 ms.
func TestLeaderReturnsAfterItsOwnGroup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		suffix string
		opts   []Option
		queued func(w *wal) bool
	}{
		{"journal", journalSuffix, nil, func(w *wal) bool {
			j := w.opener.store.jnl
			j.mu.Lock()
			defer j.mu.Unlock()
			return j.pending != nil
		}},
		{"value log", ".vlog", []Option{WithValueLogThreshold(1)}, func(w *wal) bool {
			w.ch.mu.Lock()
			defer w.ch.mu.Unlock()
			return w.ch.vlog.pending != nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held, fault := holdSyncs(tc.suffix)
			o := newOpener(t, t.TempDir(), append([]Option{withFault(fault)}, tc.opts...)...)
			t.Cleanup(o.Close)
			w := openWAL(t, o, "lead", 1, walimpls.ReadWrite).(*wal)
			t.Cleanup(w.Close)
			// First on failure: nothing can close while a sync is held.
			t.Cleanup(held.releaseAll)
			fault.on.Store(true)
			appendAsync := func(p string) chan error {
				done := make(chan error, 1)
				go func() {
					_, err := w.Append(context.Background(), message.NewMutableMessage([]byte(p), nil))
					done <- err
				}()
				return done
			}
			first := appendAsync("first")
			held.waitEntered(t, "the first append")
			second := appendAsync("second")
			deadline := time.Now().Add(10 * time.Second)
			for !tc.queued(w) {
				if time.Now().After(deadline) {
					t.Fatal("the second append never queued behind the first")
				}
				time.Sleep(time.Millisecond)
			}
			held.release <- struct{}{} // the first group's fdatasync ends
			held.waitEntered(t, "the second append")
			// The second group's fdatasync is held: its leader must not be
			// the first append's goroutine.
			select {
			case err := <-first:
				if err != nil {
					t.Fatalf("first append: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the first append did not return while the next group's fdatasync ran: its committer is still leading")
			}
			held.releaseAll()
			if err := <-second; err != nil {
				t.Fatalf("second append: %v", err)
			}
			if got := readN(t, w, walimpls.DeliverAll(), 2); string(got[0].Payload()) != "first" || string(got[1].Payload()) != "second" {
				t.Fatalf("read back %q, %q", got[0].Payload(), got[1].Payload())
			}
		})
	}
}
