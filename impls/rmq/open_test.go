package rmq

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqwal/mqwal/walimpls"
)

// TestFullDiskOpenReplaysLog: opening a directory whose journal holds
// unflushed appends, on a disk where no sstable can be written, opens in
// bounded time with every message: replaying the journal writes nothing
// (Pebble's own log was flushed inside Open, which retried forever on a
// full disk). Its close cannot flush, so the journal stays, and once
// space is back the directory opens with every message again.
func TestFullDiskOpenReplaysLog(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir)
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendN(t, w, 50, "m")
	img := crashImage(t, dir)
	o.Close()

	check := func(o walimpls.OpenerImpls) {
		t.Helper()
		got := readN(t, openWAL(t, o, "ch", 1, walimpls.ReadOnly), walimpls.DeliverAll(), 50)
		for i, m := range got {
			if want := fmt.Sprintf("m-%d", i); string(m.Payload()) != want {
				t.Fatalf("message %d = %q, want %q", i, m.Payload(), want)
			}
		}
	}
	fault := &diskFault{pick: fullDisk(".sst")}
	fault.on.Store(true)
	o1, err := buildWithin(t, NewBuilder(WithPath(img), withFault(fault)), 30*time.Second)
	if err != nil {
		t.Fatalf("open on a disk full for sstables: %v", err)
	}
	check(o1)
	within(t, "Close on a full disk", 30*time.Second, o1.Close)

	fault.on.Store(false)
	o2, err := buildWithin(t, NewBuilder(WithPath(img), withFault(fault)), 30*time.Second)
	if err != nil {
		t.Fatalf("open once space is back: %v", err)
	}
	defer o2.Close()
	check(o2)
}

// TestFullDiskOpenNew: creating a store on a full disk fails with ENOSPC
// (Pebble calls its fatal logger when the first MANIFEST cannot be written:
// that was a process panic).
func TestFullDiskOpenNew(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprint("existing=", existing), func(t *testing.T) {
			dir := t.TempDir()
			if existing {
				o := newOpener(t, dir)
				appendN(t, openWAL(t, o, "ch", 1, walimpls.ReadWrite), 5, "m")
				o.Close()
			}
			fault := &diskFault{pick: fullDisk()}
			fault.on.Store(true)
			o, err := buildWithin(t, NewBuilder(WithPath(dir), withFault(fault)), 30*time.Second)
			if err == nil {
				// An existing store may open without writing; a write then fails.
				defer o.Close()
				w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
				_, err = appendWithin(t, w, "x", 30*time.Second)
				checkDiskError(t, "append on a full disk", err, dir, syscall.ENOSPC)
				return
			}
			checkDiskError(t, "open on a full disk", err, dir, syscall.ENOSPC)
		})
	}
}

// TestDataDirPathErrors: a data directory that cannot be used (a file in
// the way, no permission) is an ErrInvalidArgument naming the path and the
// cause; nothing says another process holds it (that is ErrLocked, and
// only for Pebble's lock), and it is not ErrUnavailable, whose retry would
// not help.
func TestDataDirPathErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	denied := func(kind errorfs.OpKind) *diskFault {
		f := &diskFault{pick: func(op errorfs.Op) error {
			if op.Kind == kind {
				return &os.PathError{Op: "open", Path: op.Path, Err: syscall.EACCES}
			}
			return nil
		}}
		f.on.Store(true)
		return f
	}
	for name, run := range map[string]struct {
		b     *Builder
		cause syscall.Errno
	}{
		"file in the way":  {NewBuilder(WithPath(file)), syscall.ENOTDIR},
		"below a file":     {NewBuilder(WithPath(filepath.Join(file, "data"))), syscall.ENOTDIR},
		"mkdir denied":     {NewBuilder(WithPath(filepath.Join(t.TempDir(), "data")), withFault(denied(errorfs.OpMkdirAll))), syscall.EACCES},
		"lock file denied": {NewBuilder(WithPath(t.TempDir()), withFault(denied(errorfs.OpLock))), syscall.EACCES},
	} {
		t.Run(name, func(t *testing.T) {
			o, err := run.b.Build()
			if err == nil {
				o.Close()
				t.Fatal("Build succeeded")
			}
			if !errors.Is(err, run.cause) || !errors.Is(err, walimpls.ErrInvalidArgument) || errors.Is(err, walimpls.ErrUnavailable) {
				t.Errorf("Build = %v, want ErrInvalidArgument wrapping %v and not ErrUnavailable", err, run.cause)
			}
			if msg := err.Error(); strings.Contains(msg, "locked") || strings.Contains(msg, "held") || strings.Contains(msg, "another process") || !strings.Contains(msg, run.b.Path()) {
				t.Errorf("Build = %q: want the path, and no word of a held lock", msg)
			}
			if errors.Is(err, ErrLocked) {
				t.Errorf("Build = %v, is ErrLocked", err)
			}
		})
	}
}
