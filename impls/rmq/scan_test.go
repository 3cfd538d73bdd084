package rmq

import (
	"context"
	"runtime"
	"testing"

	"github.com/mqwal/mqwal/walimpls"
)

// A scan through the value log allocates its 1 MiB window once per reader
// (the scanner and its reads ahead), not once per chunk: over ten chunks
// of 16-byte messages it allocates at most 3 windows more than the same
// scan of messages kept inline, against 10 more with a window per chunk.
func TestScanReusesValueLogWindow(t *testing.T) {
	const n = 9*chunkMessages + 10 // ten chunks
	inline, vlog := t.TempDir(), t.TempDir()
	fillChannel(t, inline, "ch", n, 16, WithValueLogThreshold(0))
	fillChannel(t, vlog, "ch", n, 16, WithValueLogThreshold(1))
	base, got := scanAllocs(t, inline, n), scanAllocs(t, vlog, n)
	if got > base+6<<20 {
		t.Fatalf("scan of %d messages from the value log allocated %d KiB, inline %d KiB: want < 6 MiB more (a 1 MiB window per reader)", n, got>>10, base>>10)
	}
}

// scanAllocs reads the n messages of channel "ch" in dir and says how many
// bytes the scan allocated.
func scanAllocs(t *testing.T, dir string, n int) uint64 {
	o := newOpener(t, dir)
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadOnly)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := w.Read(context.Background(), walimpls.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		if _, ok := <-s.Chan(); !ok {
			t.Fatalf("scanner ended at %d: %v", i, s.Error())
		}
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
