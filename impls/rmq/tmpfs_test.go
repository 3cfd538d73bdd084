package rmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// smallDisk mounts a tmpfs of size bytes for the test, or skips it: only
// root may mount (CI runs as root).
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a size-limited tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			// Detach it anyway (a failed test may leave files open).
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// fullDiskPayload is message i of TestRealFullDisk: 1 KiB, with large
// every tenth 100 KiB (in the value log).
func fullDiskPayload(i int64, large bool) []byte {
	size := 1 << 10
	if large && i%10 == 9 {
		size = 100 << 10
	}
	p := bytes.Repeat([]byte{byte(i), byte(i >> 8)}, size/2)
	return p
}

// TestRealFullDisk fills a real 4 MiB file system through the library:
// appends end with an error naming ENOSPC, every call returns in bounded
// time, a writing open on the full disk fails at once, a read-only open
// reads every acknowledged message, and once space is freed the store
// opens for writing with all of them.
func TestRealFullDisk(t *testing.T) {
	for _, large := range []bool{false, true} {
		t.Run(fmt.Sprint("large=", large), func(t *testing.T) { testRealFullDisk(t, large) })
	}
}

func testRealFullDisk(t *testing.T, large bool) {
	mnt := smallDisk(t, 4<<20)
	// Freed later. Opening for writing flushes what Pebble's log holds (on
	// a disk this small, everything: no memtable filled), so the space
	// freed must be at least that.
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, bytes.Repeat([]byte{1}, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "data")
	o, err := buildWithin(t, NewBuilder(WithPath(dir)), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	acked := map[int64]bool{}
	var failure error
	for i := int64(0); i < 100_000 && failure == nil; i++ {
		id, err := appendWithin(t, w, string(fullDiskPayload(i, large)), 30*time.Second)
		if err != nil {
			failure = err
			break
		}
		if got := id.(helper.Int64ID).Value(); got != i {
			t.Fatalf("append %d got sequence %d", i, got)
		}
		acked[i] = true
	}
	t.Logf("%d appends acked, then: %v", len(acked), failure)
	checkDiskError(t, "append on a full disk", failure, dir, syscall.ENOSPC)
	within(t, "Truncate on a full disk", 30*time.Second, func() {
		err := w.Truncate(context.Background(), helper.NewInt64ID(Name, 0))
		t.Logf("truncate on the full disk: %v", err)
	})
	within(t, "Close on a full disk", 30*time.Second, o.Close)

	// Closing deleted the journal's segments (and their zeros ahead):
	// fill what that freed.
	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler)
	_, err = buildWithin(t, NewBuilder(WithPath(dir)), 30*time.Second)
	checkDiskError(t, "open for writing on the full disk", err, dir, syscall.ENOSPC)

	ro, err := buildWithin(t, NewBuilder(WithPath(dir), WithReadOnly()), 30*time.Second)
	if err != nil {
		t.Fatalf("read-only open on the full disk: %v", err)
	}
	checkFullDiskData(t, ro, acked, large)
	within(t, "Close of the read-only opener", 30*time.Second, ro.Close)

	for _, f := range []string{ballast, filler} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	o, err = buildWithin(t, NewBuilder(WithPath(dir)), 30*time.Second)
	if err != nil {
		t.Fatalf("open for writing once space is freed: %v", err)
	}
	defer o.Close()
	n := checkFullDiskData(t, o, acked, large)
	w = openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	if id, err := w.Append(context.Background(), message.NewMutableMessage(fullDiskPayload(n, large), nil)); err != nil || id.(helper.Int64ID).Value() != n {
		t.Fatalf("append once space is freed = %v, %v; want sequence %d", id, err, n)
	}
}

// fillDisk writes name until the disk is full.
func fillDisk(t *testing.T, name string) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// checkFullDiskData reads channel ch through o: every acked message is
// there, byte-identical, among sequences that continue without a gap. It
// returns the number of messages.
func checkFullDiskData(t *testing.T, o walimpls.OpenerImpls, acked map[int64]bool, large bool) int64 {
	t.Helper()
	w := openWAL(t, o, "ch", 1, walimpls.ReadOnly)
	latest, err := w.(walimpls.LatestIDReader).LatestID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := latest.(helper.Int64ID).Value() + 1
	for id := range acked {
		if id >= n {
			t.Fatalf("acked sequence %d lost: the channel ends at %d", id, n)
		}
	}
	first, _, _ := w.(*wal).ch.view()
	got := readN(t, w, walimpls.DeliverAll(), int(n-int64(first)))
	for _, m := range got {
		id := m.MessageID().(helper.Int64ID).Value()
		if !bytes.Equal(m.Payload(), fullDiskPayload(id, large)) {
			t.Fatalf("sequence %d came back with other bytes", id)
		}
	}
	w.Close()
	return n
}
