package rmq

import (
	"context"
	"runtime"
	"testing"

	"github.com/mqwal/mqwal/walimpls"
)

// A scan through the value log allocates its 1 MiB window once, not once
// per chunk: four chunks of 12,298 16-byte messages took 2.7 MiB with the
// window reused (the messages ~1.7 MiB) and 5.8 MiB with a window per chunk.
func TestScanReusesValueLogWindow(t *testing.T) {
	const n = 3*chunkMessages + 10 // four chunks
	dir := t.TempDir()
	fillChannel(t, dir, "ch", n, 16, WithValueLogThreshold(1))
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
	got := after.TotalAlloc - before.TotalAlloc
	if got > 4<<20 {
		t.Fatalf("scan of %d messages allocated %d KiB, want < 4096 KiB (one 1 MiB value log window)", n, got>>10)
	}
}
