package rmq

import (
	"context"
	"fmt"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// TestOldDirectoryOpens: a data directory written the way releases before
// the value log took every message wrote it (small messages inline in
// Pebble, threshold 64 KiB, and threshold 0: everything inline) opens with
// every message going to the value log, reads back byte-identical, takes new appends after
// the old ones through the value log (threshold 1), truncates across both kinds, and reads all of it again
// after another reopen. The format did not change, so the other direction
// (an older release reading a new directory) is the same code path as the
// "mixed" conformance run.
func TestOldDirectoryOpens(t *testing.T) {
	for _, old := range []int{64 << 10, 0} {
		t.Run(fmt.Sprintf("threshold=%d", old), func(t *testing.T) {
			dir := t.TempDir()
			var want [][]byte
			add := func(w walimpls.WALImpls, n int) {
				for i := range n {
					size := 10 + i*37%3000
					if i%5 == 4 {
						size = 100 << 10 // a value log record under the old default
					}
					p := payloads(1, size)[0]
					p[0] = byte(len(want))
					id, err := w.Append(context.Background(), message.NewMutableMessage(p, message.Properties{"i": fmt.Sprint(len(want))}))
					if err != nil {
						t.Fatal(err)
					}
					if got := id.(helper.Int64ID).Value(); got != int64(len(want)) {
						t.Fatalf("append %d got id %d", len(want), got)
					}
					want = append(want, p)
				}
			}
			o := newOpener(t, dir, WithValueLogThreshold(old))
			add(openWAL(t, o, "ch", 1, walimpls.ReadWrite), 40)
			o.Close()

			o = newOpener(t, dir, WithValueLogThreshold(1))
			w := openWAL(t, o, "ch", 2, walimpls.ReadWrite)
			checkAll(t, w, want, 0)
			add(w, 40)
			checkAll(t, w, want, 0)
			if err := w.Truncate(context.Background(), helper.NewInt64ID(Name, 49)); err != nil {
				t.Fatal(err)
			}
			o.Close()

			o = newOpener(t, dir, WithValueLogThreshold(1))
			defer o.Close()
			checkAll(t, openWAL(t, o, "ch", 3, walimpls.ReadWrite), want, 50)
		})
	}
}

// checkAll scans w from its first retained message and compares with
// want[from:].
func checkAll(t *testing.T, w walimpls.WALImpls, want [][]byte, from int) {
	t.Helper()
	s, err := w.Read(context.Background(), walimpls.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := from; i < len(want); i++ {
		m, ok := <-s.Chan()
		if !ok {
			t.Fatalf("scanner ended at %d of %d: %v", i, len(want), s.Error())
		}
		if got := m.MessageID().(helper.Int64ID).Value(); got != int64(i) {
			t.Fatalf("sequence %d where %d was due", got, i)
		}
		if string(m.Payload()) != string(want[i]) || m.Properties()["i"] != fmt.Sprint(i) {
			t.Fatalf("sequence %d came back with other bytes", i)
		}
	}
}
