package rmq

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// Heavy measurements, off by default (they write hundreds of MiB):
//
//	MQWAL_RMQ_PERF=1 go test -run TestPerfTruncate -v ./impls/rmq
//	MQWAL_RMQ_PERF_RSS=1 go test -run TestPerfSlowScanRSS -v -timeout 30m ./impls/rmq

func dirBytes(t testing.TB, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			var info fs.FileInfo
			if info, err = d.Info(); err == nil {
				n += info.Size()
			}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil // Pebble deleted it meanwhile
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPerfTruncate: truncating the oldest 100k of 200k 1 KiB messages
// returns in well under a millisecond, and the space comes back.
func TestPerfTruncate(t *testing.T) {
	if os.Getenv("MQWAL_RMQ_PERF") == "" {
		t.Skip("set MQWAL_RMQ_PERF=1")
	}
	const total, cut = 200_000, 100_000
	var durations []time.Duration
	for trial := range 3 {
		dir := t.TempDir()
		fillChannel(t, dir, "trunc", total, benchPayload)
		o := newOpener(t, dir)
		w := openWAL(t, o, "trunc", 1, walimpls.ReadWrite)
		before := dirBytes(t, dir)
		start := time.Now()
		if err := w.Truncate(context.Background(), helper.NewInt64ID(Name, cut-1)); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		durations = append(durations, d)
		live := int64(total-cut) * benchPayload
		deadline := time.Now().Add(30 * time.Second)
		after := dirBytes(t, dir)
		for after > live*3/2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // polling the disk usage with a deadline
			after = dirBytes(t, dir)
		}
		reclaimed := time.Since(start)
		t.Logf("trial %d: truncate returned in %v; disk %0.1f MiB before, %0.1f MiB after %v; live %0.1f MiB: %.2fx",
			trial, d, mib(before), mib(after), reclaimed.Round(time.Millisecond), mib(live), float64(after)/float64(live))
		if after > live*3/2 {
			t.Errorf("trial %d: disk usage %0.1f MiB is above 1.5x the live %0.1f MiB after 30s", trial, mib(after), mib(live))
		}
		o.Close()
	}
	slices.Sort(durations)
	t.Logf("truncate median %v", durations[len(durations)/2])
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// peakRSS is VmHWM in bytes.
func peakRSS(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// TestPerfSlowScanRSS writes a 1 GiB channel, resets the peak RSS, and
// scans it with a consumer slower than the disk: the scanner's memory is
// its read-ahead buffer plus one chunk and the two it reads ahead, so RSS
// stays far below the channel.
func TestPerfSlowScanRSS(t *testing.T) {
	if os.Getenv("MQWAL_RMQ_PERF_RSS") == "" {
		t.Skip("set MQWAL_RMQ_PERF_RSS=1")
	}
	const size = 64 << 10
	const n = (1 << 30) / size
	dir := t.TempDir()
	fillChannel(t, dir, "big", n, size)
	runtime.GC()
	debug.FreeOSMemory()
	// Reset VmHWM to the current RSS so only the scan counts.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset peak RSS: %v", err)
	}
	base := peakRSS(t)
	o := newOpener(t, dir)
	defer o.Close()
	w := openWAL(t, o, "big", 1, walimpls.ReadOnly)
	s, err := w.Read(context.Background(), walimpls.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	for i := range n {
		m, ok := <-s.Chan()
		if !ok || m.MessageID().(helper.Int64ID).Value() != int64(i) {
			t.Fatalf("message %d: %v %v", i, m, s.Error())
		}
		if i%16 == 0 {
			time.Sleep(time.Millisecond) // the slow consumer
		}
	}
	peak := peakRSS(t)
	t.Logf("scanned %d MiB in %v with a slow consumer: peak RSS %0.1f MiB (%0.1f MiB before the scan)",
		n*size>>20, time.Since(start).Round(time.Millisecond), mib(peak), mib(base))
	if peak > 200<<20 {
		t.Errorf("peak RSS %0.1f MiB, want < 200 MiB", mib(peak))
	}
}
