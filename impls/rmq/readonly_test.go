package rmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// roPayload is message i of the read-only tests: every third one goes to
// the value log.
func roPayload(i int) []byte {
	if i%3 == 2 {
		return bytes.Repeat([]byte{byte(i)}, 100<<10)
	}
	return []byte(fmt.Sprintf("m-%d", i))
}

func checkRO(t *testing.T, got []message.ImmutableMessage) {
	t.Helper()
	for i, m := range got {
		if !bytes.Equal(m.Payload(), roPayload(i)) {
			t.Fatalf("message %d: %d bytes, not what was appended", i, len(m.Payload()))
		}
	}
}

// crashedWithLostPointers is a data directory as a crash can leave it:
// Pebble's log holds messages 0..19 unflushed, and the value log holds
// message 20 (large) whose pointer Pebble lost, which the next open must
// put back. It is a copy of a directory taken after message 19 with the
// value log copied later, after message 29: its records 23, 26 and 29
// follow a gap (21 and 22 were small) and are cut off as never acked.
func crashedWithLostPointers(t *testing.T) (dir string, n int) {
	t.Helper()
	src := t.TempDir()
	o := newOpener(t, src, WithValueLogThreshold(64<<10))
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	for i := range 30 {
		if i == 20 {
			dir = crashImage(t, src)
		}
		appendOne(t, w, roPayload(i))
	}
	o.Close()
	if err := os.RemoveAll(filepath.Join(dir, vlogDirName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(crashImage(t, filepath.Join(src, vlogDirName)), filepath.Join(dir, vlogDirName)); err != nil {
		t.Fatal(err)
	}
	return dir, 21
}

// TestReadOnlyFullDisk: an opener built WithReadOnly reads a directory on
// a disk that takes no write at all, including messages whose value log
// pointers a crash lost (rebuilt in memory), and writes nothing; a writing
// opener fails there at once with ENOSPC.
func TestReadOnlyFullDisk(t *testing.T) {
	dir, n := crashedWithLostPointers(t)
	fault := &diskFault{pick: fullDisk()}
	fault.on.Store(true)

	_, err := buildWithin(t, NewBuilder(WithPath(dir), withFault(fault)), 10*time.Second)
	checkDiskError(t, "open for writing on a full disk", err, dir, syscall.ENOSPC)
	hits := fault.hits.Load()

	o, err := buildWithin(t, NewBuilder(WithPath(dir), WithReadOnly(), withFault(fault)), 10*time.Second)
	if err != nil {
		t.Fatalf("read-only open on a full disk: %v", err)
	}
	w := openWAL(t, o, "ch", 1, walimpls.ReadOnly)
	if c := channelOf(o, "ch"); c.memBase != uint64(n-1) || len(c.memTail) != 1 {
		t.Fatalf("pointers kept in memory from %d: %d, want 1 from %d", c.memBase, len(c.memTail), n-1)
	}
	checkRO(t, readN(t, w, walimpls.DeliverAll(), n))
	if latest, err := w.(walimpls.LatestIDReader).LatestID(context.Background()); err != nil || latest.Marshal() != fmt.Sprint(n-1) {
		t.Fatalf("LatestID = %v, %v; want %d", latest, err, n-1)
	}
	if _, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "ch", Term: 1, AccessMode: walimpls.ReadWrite}}); !errors.Is(err, walimpls.ErrReadOnly) {
		t.Fatalf("ReadWrite open on a read-only opener = %v, want ErrReadOnly", err)
	}
	if _, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "nope", AccessMode: walimpls.ReadOnly}}); !errors.Is(err, walimpls.ErrNotFound) {
		t.Fatalf("open of a missing channel on a read-only opener = %v, want ErrNotFound", err)
	}
	o.Close()
	if got := fault.hits.Load(); got != hits {
		t.Fatalf("the read-only opener tried %d writes", got-hits)
	}

	// Writable again: the lost pointers are rebuilt for good.
	fault.on.Store(false)
	o = newOpener(t, dir)
	w = openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendOne(t, w, roPayload(n))
	checkRO(t, readN(t, w, walimpls.DeliverAll(), n+1))
	o.Close()
}

func appendOne(t *testing.T, w walimpls.WALImpls, p []byte) {
	t.Helper()
	if _, err := w.Append(context.Background(), message.NewMutableMessage(p, nil)); err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlyInProcess: a read-only opener shares the instance a writing
// opener of the process has open (and so tails its appends); a writing
// opener cannot join a read-only instance; a read-only opener does not
// create a missing directory.
func TestReadOnlyInProcess(t *testing.T) {
	dir := t.TempDir()
	rw := newOpener(t, dir)
	w := openWAL(t, rw, "ch", 1, walimpls.ReadWrite)
	appendOne(t, w, roPayload(0))
	ro := newOpener(t, dir, WithReadOnly())
	r := openWAL(t, ro, "ch", 1, walimpls.ReadOnly)
	appendOne(t, w, roPayload(1))
	checkRO(t, readN(t, r, walimpls.DeliverAll(), 2))
	ro.Close()
	rw.Close()

	ro = newOpener(t, dir, WithReadOnly())
	if _, err := NewBuilder(WithPath(dir)).Build(); !errors.Is(err, walimpls.ErrUnavailable) || errors.Is(err, ErrLocked) {
		t.Fatalf("writing opener while a read-only one is open = %v, want ErrUnavailable (not ErrLocked)", err)
	}
	ro.Close()

	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := NewBuilder(WithPath(missing), WithReadOnly()).Build(); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Fatalf("read-only open of a missing directory = %v, want ErrInvalidArgument", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the read-only open created %s: %v", missing, err)
	}
}

// TestReadOnlyOpenOfMissingChannel: a ReadOnly open of a channel the store
// never had is ErrNotFound and creates nothing (it created the channel:
// walctl stat and scan of a typo left it behind, listed from then on); a
// channel opened ReadWrite exists, records or not, and opens ReadOnly.
func TestReadOnlyOpenOfMissingChannel(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir)
	_, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "typo", AccessMode: walimpls.ReadOnly}})
	if !errors.Is(err, walimpls.ErrNotFound) || !strings.Contains(err.Error(), "typo") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("ReadOnly open of a missing channel = %v, want ErrNotFound naming it and %s", err, dir)
	}
	if names, err := o.(walimpls.ChannelLister).ListChannels(context.Background()); err != nil || len(names) != 0 {
		t.Fatalf("after the refused open the store lists %v, %v", names, err)
	}
	openWAL(t, o, "empty", 1, walimpls.ReadWrite).Close()
	o.Close()

	o = newOpener(t, dir)
	defer o.Close()
	ro := openWAL(t, o, "empty", 0, walimpls.ReadOnly)
	if latest, err := ro.(walimpls.LatestIDReader).LatestID(context.Background()); err != nil || latest != nil {
		t.Fatalf("ReadOnly WAL of a channel without records: LatestID %v, %v", latest, err)
	}
	if names, _ := o.(walimpls.ChannelLister).ListChannels(context.Background()); len(names) != 1 || names[0] != "empty" {
		t.Fatalf("store lists %v, want [empty]", names)
	}
}
