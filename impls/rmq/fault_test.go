package rmq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// logFault fails the writes or syncs of Pebble's write-ahead log (suffix
// ".log") or of the value log (".vlog") while on.
type logFault struct {
	on     atomic.Bool
	kind   string // "fsync" or "enospc"
	suffix string
	hits   atomic.Int64
}

func (f *logFault) MaybeError(op errorfs.Op) error {
	if !f.on.Load() || !strings.HasSuffix(op.Path, f.suffix) {
		return nil
	}
	switch {
	case f.kind == "fsync" && (op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileSyncTo):
		f.hits.Add(1)
		return fmt.Errorf("fsync %s: %w", op.Path, syscall.EIO)
	case f.kind == "enospc" && (op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileWriteAt):
		f.hits.Add(1)
		return fmt.Errorf("write %s: %w", op.Path, syscall.ENOSPC)
	}
	return nil
}

func (f *logFault) String() string { return "rmq log fault " + f.kind }

// TestDiskFaults: a failed fsync or a full disk fails the Append that hit
// it, the store then refuses every write (even once the disk is healthy
// again) instead of continuing after a failed sync, and after reopening
// every acknowledged message is there. The vlog runs store every message
// in the value log and fail its files.
func TestDiskFaults(t *testing.T) {
	for _, run := range []struct{ kind, suffix string }{
		{"fsync", ".log"}, {"enospc", ".log"}, {"fsync", vlogSuffix}, {"enospc", vlogSuffix},
	} {
		kind := run.kind
		t.Run(kind+run.suffix, func(t *testing.T) {
			dir := t.TempDir()
			fault := &logFault{kind: kind, suffix: run.suffix}
			threshold := 0
			if run.suffix == vlogSuffix {
				threshold = 1
			}
			o := newOpener(t, dir, WithValueLogThreshold(threshold), WithPebbleOptions(func(o *pebble.Options) { o.FS = errorfs.Wrap(vfs.Default, fault) }))
			w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
			other := openWAL(t, o, "other", 1, walimpls.ReadWrite)
			acked := map[int64]string{}
			for i := range 20 {
				p := fmt.Sprintf("before-%d", i)
				id, err := w.Append(context.Background(), message.NewMutableMessage([]byte(p), nil))
				if err != nil {
					t.Fatal(err)
				}
				acked[id.(helper.Int64ID).Value()] = p
			}

			fault.on.Store(true)
			// Concurrent appenders all see the failure; none is acked.
			var wg sync.WaitGroup
			var mu sync.Mutex
			var errs []error
			for g := range 4 {
				wg.Go(func() {
					p := fmt.Sprintf("during-%d", g)
					id, err := w.Append(context.Background(), message.NewMutableMessage([]byte(p), nil))
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						acked[id.(helper.Int64ID).Value()] = p
						return
					}
					errs = append(errs, err)
				})
			}
			wg.Wait()
			if fault.hits.Load() == 0 || len(errs) == 0 {
				t.Fatalf("fault hit %d times, %d appends failed", fault.hits.Load(), len(errs))
			}
			for _, err := range errs {
				if !errors.Is(err, walimpls.ErrOutcomeUnknown) && !errors.Is(err, ErrStoreFailed) {
					t.Fatalf("append during the fault = %v, want ErrOutcomeUnknown or ErrStoreFailed", err)
				}
				if walimpls.IsRetryable(err) {
					t.Fatalf("append during the fault is retryable: %v", err)
				}
			}
			if !strings.Contains(errs[0].Error(), map[string]string{"fsync": "input/output error", "enospc": "no space left"}[kind]) {
				t.Fatalf("the cause is not visible: %v", errs[0])
			}

			// Sticky: the disk is fine again, but the store stays failed.
			fault.on.Store(false)
			if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte("after"), nil)); !errors.Is(err, ErrStoreFailed) {
				t.Fatalf("append after the fault = %v, want ErrStoreFailed", err)
			}
			if _, err := other.Append(context.Background(), message.NewMutableMessage([]byte("after"), nil)); !errors.Is(err, ErrStoreFailed) {
				t.Fatalf("append to another channel after the fault = %v, want ErrStoreFailed", err)
			}
			if err := w.Truncate(context.Background(), helper.NewInt64ID(Name, 0)); !errors.Is(err, ErrStoreFailed) {
				t.Fatalf("truncate after the fault = %v, want ErrStoreFailed", err)
			}
			o.Close()

			o = newOpener(t, dir)
			defer o.Close()
			w = openWAL(t, o, "ch", 1, walimpls.ReadWrite)
			probe, err := w.Append(context.Background(), message.NewMutableMessage([]byte("probe"), nil))
			if err != nil {
				t.Fatalf("append after reopening: %v", err)
			}
			n := int(probe.(helper.Int64ID).Value()) + 1
			got := readN(t, w, walimpls.DeliverAll(), n)
			for i, m := range got {
				if p, ok := acked[int64(i)]; ok && p != string(m.Payload()) {
					t.Fatalf("acked sequence %d = %q, want %q", i, m.Payload(), p)
				}
				if int64(i) != m.MessageID().(helper.Int64ID).Value() {
					t.Fatalf("gap at %d: %v", i, m.MessageID())
				}
			}
			for id := range acked {
				if id >= int64(n) {
					t.Fatalf("acked sequence %d lost", id)
				}
			}
		})
	}
}
