package rmq

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// TestReclaimerSyncFailurePoisons: the reclaimer's sync of the journal
// (it makes truncations durable) failing is a failed sync like any other:
// the store refuses every later write, so no later append is acknowledged.
func TestReclaimerSyncFailurePoisons(t *testing.T) {
	dir := t.TempDir()
	fault := &diskFault{pick: syncFails(journalSuffix)}
	// Every message in the value log: appends never sync the journal, so
	// the reclaimer's sync is the one that fails (Truncate writes the
	// journal without a sync).
	o := newOpener(t, dir, withFault(fault), WithValueLogThreshold(1))
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	ids := appendN(t, w, 10, "m")
	fault.on.Store(true)
	if err := w.Truncate(context.Background(), ids[4]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fault.hits.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the reclaimer never synced the journal")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fault.on.Store(false)
	_, err := appendWithin(t, w, "after", 10*time.Second)
	if !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("append after the reclaimer's sync failed = %v, want ErrStoreFailed", err)
	}
	if !strings.Contains(err.Error(), dir) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("the error names neither the directory nor the cause: %v", err)
	}
}

// TestTruncatedValueLogSpaceReturns: truncating every message of a channel
// gives its value log space back within seconds, without a reopen, the
// segment being written included.
func TestTruncatedValueLogSpaceReturns(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir, WithValueLogThreshold(1))
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	ids := appendN(t, w, 20, "m")
	if err := w.Truncate(context.Background(), ids[len(ids)-1]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		segs, _ := filepath.Glob(filepath.Join(dir, vlogDirName, "*", "*"+vlogSuffix))
		if len(segs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after truncating everything, the value log still holds %v", segs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The channel goes on: a new segment, sequences continuing.
	id, err := w.Append(context.Background(), message.NewMutableMessage([]byte("next"), nil))
	if err != nil || id.(helper.Int64ID).Value() != 20 {
		t.Fatalf("append after the space came back = %v, %v; want sequence 20", id, err)
	}
	got := readN(t, w, walimpls.DeliverAll(), 1)
	if string(got[0].Payload()) != "next" {
		t.Fatalf("read %q", got[0].Payload())
	}
}

// TestTruncateFreesSpaceWhileFlushFails: on a disk so full that Pebble
// cannot flush, truncating still deletes value log segments, again and
// again: the reclaimer does not wait for its compaction (which needs a
// flush) before the next truncation's deletion.
func TestTruncateFreesSpaceWhileFlushFails(t *testing.T) {
	dir := t.TempDir()
	fault := &diskFault{pick: fullDisk(".sst")}
	o := newVlogOpener(t, dir, withFault(fault))
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendMixed(t, w, 0, 90)
	fault.on.Store(true)
	for _, upTo := range []int{44, 89} {
		before := segmentFiles(t, dir)
		if err := w.Truncate(context.Background(), helper.NewInt64ID(Name, int64(upTo))); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(segmentFiles(t, dir)) >= len(before) {
			if time.Now().After(deadline) {
				t.Fatalf("truncating to %d deleted no value log segment in 10 s (fault hits %d)", upTo, fault.hits.Load())
			}
			time.Sleep(10 * time.Millisecond) // polling the directory with a deadline
		}
	}
	if fault.hits.Load() == 0 {
		t.Fatal("no flush failed: the test tests nothing")
	}
}
