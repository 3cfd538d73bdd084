package rmq

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// TestConformance runs the whole walimplstest contract on one data
// directory; every opener it builds reaches the same data, as a restarted
// process would (each case closes its openers, so the next case reopens
// Pebble from disk; within a case, openers share one Pebble instance). The fault flushes the memtable and compacts the store while
// the history checker runs, so reads cross memtable, L0 and compacted
// sstables.
//
// The default runs split at 64 KiB (small messages in Pebble's log, the
// harness's large ones in the value log); the vlog runs put every message
// into the value log (threshold 1 byte), so every case, persistence and
// truncation included, goes through it; the inline run keeps every
// message in Pebble's log (threshold 0).
func TestConformance(t *testing.T) {
	for _, run := range []struct {
		name      string
		mode      SyncMode
		threshold int
	}{
		{"sync", SyncAlways, DefaultValueLogThreshold},
		{"group", SyncGroup, DefaultValueLogThreshold},
		{"none", SyncNone, DefaultValueLogThreshold},
		{"vlog-sync", SyncAlways, 1},
		{"vlog-group", SyncGroup, 1},
		{"vlog-none", SyncNone, 1},
		{"inline-sync", SyncAlways, 0},
	} {
		t.Run(run.name, func(t *testing.T) {
			dir := t.TempDir()
			newOpener := func() (walimpls.OpenerImpls, error) {
				return NewBuilder(WithPath(dir), WithSyncMode(run.mode), WithValueLogThreshold(run.threshold)).Build()
			}
			walimplstest.Run(t, walimplstest.Harness{
				NewOpener: newOpener,
				Faults: []walimplstest.Fault{{
					Name: "FlushAndCompact",
					Inject: func(ctx context.Context) error {
						// Shares the Pebble instance the checker's openers use.
						o, err := newOpener()
						if err != nil {
							return err
						}
						defer o.Close()
						db := o.(*opener).store.db
						if err := db.Flush(); err != nil {
							return err
						}
						return db.Compact(ctx, []byte{prefixData}, []byte{prefixData + 1}, false)
					},
				}},
			})
			if segs, _ := filepath.Glob(filepath.Join(dir, vlogDirName, "*", "*"+vlogSuffix)); run.threshold == 1 && len(segs) == 0 {
				t.Fatal("no value log segment was written")
			}
		})
	}
}
