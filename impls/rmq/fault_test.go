package rmq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// diskFault fails the operations pick chooses while on.
type diskFault struct {
	on   atomic.Bool
	pick func(op errorfs.Op) error
	hits atomic.Int64
}

func (f *diskFault) MaybeError(op errorfs.Op) error {
	if !f.on.Load() {
		return nil
	}
	err := f.pick(op)
	if err != nil {
		f.hits.Add(1)
	}
	return err
}

func (f *diskFault) String() string { return "rmq disk fault" }

// withFault routes Pebble's (and so the value log's) file system through f.
func withFault(f *diskFault) Option {
	return WithPebbleOptions(func(o *pebble.Options) { o.FS = faultFS{errorfs.Wrap(vfs.Default, f), f} })
}

// faultFS is errorfs plus recycled files: errorfs's ReuseForWrite returns
// the file unwrapped, so a recycled Pebble log would never fail.
type faultFS struct {
	*errorfs.FS
	f *diskFault
}

func (fs faultFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, name: newname, f: fs.f}, nil
}

// faultFile injects f's errors into the writes and syncs of a file.
type faultFile struct {
	vfs.File
	name string
	f    *diskFault
}

func (ff *faultFile) fault(kind errorfs.OpKind) error {
	return ff.f.MaybeError(errorfs.Op{Kind: kind, Path: ff.name})
}

func (ff *faultFile) Write(p []byte) (int, error) {
	if err := ff.fault(errorfs.OpFileWrite); err != nil {
		return 0, err
	}
	return ff.File.Write(p)
}

func (ff *faultFile) Preallocate(off, n int64) error {
	if err := ff.fault(errorfs.OpFilePreallocate); err != nil {
		return err
	}
	return ff.File.Preallocate(off, n)
}

func (ff *faultFile) Sync() error {
	if err := ff.fault(errorfs.OpFileSync); err != nil {
		return err
	}
	return ff.File.Sync()
}

func (ff *faultFile) SyncData() error {
	if err := ff.fault(errorfs.OpFileSyncData); err != nil {
		return err
	}
	return ff.File.SyncData()
}

func (ff *faultFile) SyncTo(length int64) (bool, error) {
	if err := ff.fault(errorfs.OpFileSyncTo); err != nil {
		return false, err
	}
	return ff.File.SyncTo(length)
}

func isWrite(k errorfs.OpKind) bool {
	return k == errorfs.OpFileWrite || k == errorfs.OpFileWriteAt || k == errorfs.OpFilePreallocate
}

func isSync(k errorfs.OpKind) bool {
	return k == errorfs.OpFileSync || k == errorfs.OpFileSyncData || k == errorfs.OpFileSyncTo
}

// fullDisk models a full disk for files whose names end in one of
// suffixes (every file if none): writing fails with ENOSPC, creating,
// reading and removing work.
func fullDisk(suffixes ...string) func(errorfs.Op) error {
	return func(op errorfs.Op) error {
		if !isWrite(op.Kind) || !hasSuffix(op.Path, suffixes) {
			return nil
		}
		return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
	}
}

// failingDisk: writes and syncs of matching files fail with EIO.
func failingDisk(suffixes ...string) func(errorfs.Op) error {
	return func(op errorfs.Op) error {
		if !(isWrite(op.Kind) || isSync(op.Kind)) || !hasSuffix(op.Path, suffixes) {
			return nil
		}
		return &os.PathError{Op: "write", Path: op.Path, Err: syscall.EIO}
	}
}

// syncFails: syncs of matching files fail with EIO (writes work).
func syncFails(suffixes ...string) func(errorfs.Op) error {
	return func(op errorfs.Op) error {
		if !isSync(op.Kind) || !hasSuffix(op.Path, suffixes) {
			return nil
		}
		return &os.PathError{Op: "fsync", Path: op.Path, Err: syscall.EIO}
	}
}

func hasSuffix(path string, suffixes []string) bool {
	if len(suffixes) == 0 {
		return true
	}
	for _, s := range suffixes {
		if strings.HasSuffix(path, s) || strings.Contains(filepath.Base(path), s) {
			return true
		}
	}
	return false
}

// crashImage copies dir while its store is open: after synced appends the
// copy is what a crash at this moment would leave (Pebble's log not yet
// flushed, so opening it must flush the log).
func crashImage(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			_ = out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// within runs fn and fails the test if it takes longer than d.
func within(t *testing.T, what string, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		t.Fatalf("%s did not return within %v; goroutines:\n%s", what, d, buf[:runtime.Stack(buf, true)])
	}
}

// buildWithin builds b, failing the test if Build takes longer than d.
func buildWithin(t *testing.T, b *Builder, d time.Duration) (o walimpls.OpenerImpls, err error) {
	t.Helper()
	within(t, "Build of "+b.Path(), d, func() { o, err = b.Build() })
	return o, err
}

// appendWithin appends p, failing the test if Append takes longer than d.
func appendWithin(t *testing.T, w walimpls.WALImpls, p string, d time.Duration) (id message.MessageID, err error) {
	t.Helper()
	within(t, "Append", d, func() { id, err = w.Append(context.Background(), message.NewMutableMessage([]byte(p), nil)) })
	return id, err
}

// checkDiskError: err says what failed, where, and why.
func checkDiskError(t *testing.T, what string, err error, dir string, cause syscall.Errno) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	if !errors.Is(err, cause) {
		t.Errorf("%s: %v does not wrap %v", what, err, cause)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("%s: %v does not name the data directory %s", what, err, dir)
	}
	if strings.Contains(err.Error(), "another process") {
		t.Errorf("%s: %v blames another process", what, err)
	}
}

// TestDiskFaults: a failed fsync or a full disk fails the Append that hit
// it, the store then refuses every write (even once the disk is healthy
// again) instead of continuing after a failed sync, and after reopening
// every acknowledged message is there. The vlog runs store every message
// in the value log and fail its files.
func TestDiskFaults(t *testing.T) {
	for _, run := range []struct{ kind, suffix string }{
		{"fsync", journalSuffix}, {"enospc", journalSuffix}, {"fsync", vlogSuffix}, {"enospc", vlogSuffix},
	} {
		kind := run.kind
		t.Run(kind+run.suffix, func(t *testing.T) {
			dir := t.TempDir()
			fault := &diskFault{pick: map[string]func(...string) func(errorfs.Op) error{"fsync": syncFails, "enospc": fullDisk}[kind](run.suffix)}
			threshold := 0
			if run.suffix == vlogSuffix {
				threshold = 1
			}
			o := newOpener(t, dir, WithValueLogThreshold(threshold), withFault(fault))
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
