package rmq

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqwal/mqwal/walimpls"
)

const (
	// reportEvery: a failure of one kind (what failed and its errno) is
	// logged when it first happens, then at most this often with the
	// number of repeats, and once more when the work succeeds again.
	reportEvery = time.Minute
	// Pebble retries a failed flush or compaction at once and forever; on
	// a full disk that is a busy loop. Creating the next table file waits
	// backoffMin, doubling per consecutive failure up to backoffMax.
	backoffMin = 10 * time.Millisecond
	backoffMax = time.Second
)

// health is what one store knows about its disk and Pebble's background
// work. It exists before Pebble is opened: Pebble's logger, event listener
// and file system report to it from Open on, and whoever waits for Pebble
// (an open, a close, an append) asks it whether waiting can still end.
type health struct {
	path string
	log  *slog.Logger

	// failure is the first failed write or sync: every later write is
	// refused (ErrStoreFailed) until the store is reopened.
	failure atomic.Pointer[error]
	// fatal is set once Pebble stopped: it called its fatal logger, or its
	// log failed while it switched logs (see parkIfRotating). Pebble's state
	// is then unknown, and the goroutine that hit it is parked, maybe holding
	// Pebble's locks, so nothing may wait for Pebble any more; stopped is
	// closed then.
	fatal   atomic.Pointer[fatalError]
	stopped chan struct{}
	// flushErr is the last failed memtable flush, nil once one succeeds.
	// Appends are refused meanwhile: they would fill the memtables and then
	// block in Pebble's write stall until a flush succeeds.
	flushErr atomic.Pointer[error]
	// bgFails counts flushes and compactions failed since the last success.
	bgFails atomic.Int32
	// changed is closed and replaced after each failure, so a goroutine
	// waiting on Pebble (open, flush on close, the reclaimer's compaction)
	// can look again whether waiting can still end.
	changedMu sync.Mutex
	changed   chan struct{}
	// closing ends backoff waits: the store is closing.
	closing   chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	reports map[string]*report
}

type report struct {
	last     time.Time
	repeated int
}

func newHealth(path string, log *slog.Logger) *health {
	return &health{path: path, log: log, changed: make(chan struct{}), stopped: make(chan struct{}), closing: make(chan struct{}), reports: map[string]*report{}}
}

func (h *health) signal() {
	h.changedMu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.changedMu.Unlock()
}

// changes is closed at the next failure.
func (h *health) changes() <-chan struct{} {
	h.changedMu.Lock()
	defer h.changedMu.Unlock()
	return h.changed
}

func (h *health) close() { h.closeOnce.Do(func() { close(h.closing) }) }

// fail makes err the store's sticky failure (the first one counts).
func (h *health) fail(err error) {
	if h.failure.CompareAndSwap(nil, &err) {
		h.signal()
	}
}

// failed is the sticky failure, if any, as an ErrStoreFailed naming the
// data directory.
func (h *health) failed() error {
	if p := h.failure.Load(); p != nil {
		return fmt.Errorf("%w: data directory %s: %w", ErrStoreFailed, h.path, *p)
	}
	return nil
}

// flushFailing is the error appends are refused with while Pebble cannot
// flush its memtable, else nil. Nothing was written: retryable.
func (h *health) flushFailing() error {
	if p := h.flushErr.Load(); p != nil {
		return fmt.Errorf("%w: rmq: data directory %s: Pebble cannot flush its memtable (%w); appends are refused until a flush succeeds", walimpls.ErrUnavailable, h.path, *p)
	}
	return nil
}

// report logs a failure of category what, rate-limited per kind (what
// plus the errno, so a full disk and an I/O error are told apart).
func (h *health) report(what string, err error) { h.reportAs(what, errnoOf(err), err) }

// reportAs is report with the kind within what given.
func (h *health) reportAs(what, kind string, err error) {
	kind = what + ": " + kind
	now := time.Now()
	h.mu.Lock()
	r := h.reports[kind]
	if r != nil && now.Sub(r.last) < reportEvery {
		r.repeated++
		h.mu.Unlock()
		return
	}
	repeated := 0
	if r == nil {
		r = &report{}
		h.reports[kind] = r
	} else {
		repeated = r.repeated
	}
	r.last, r.repeated = now, 0
	h.mu.Unlock()
	if repeated > 0 {
		h.log.Error("rmq: "+what+" failed again", "dir", h.path, "err", err.Error(), "repeats_not_logged", repeated)
		return
	}
	h.log.Error("rmq: "+what+" failed (repeats are logged at most once a minute)", "dir", h.path, "err", err.Error())
}

// recovered ends the failures of category what: the next one is logged
// at once, and if any was reported, so is the recovery.
func (h *health) recovered(what string) {
	h.mu.Lock()
	n, found := 0, false
	for kind, r := range h.reports {
		if strings.HasPrefix(kind, what+": ") {
			n += r.repeated + 1
			found = true
			delete(h.reports, kind)
		}
	}
	h.mu.Unlock()
	if found {
		h.log.Info("rmq: "+what+" works again", "dir", h.path, "failures", n)
	}
}

// errnoOf names the system error in err's chain, or "error".
func errnoOf(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return "error"
}

// errEmptyTableMsg is how Pebble's FlushEnd reports a flush that had
// nothing to write (pebble's errEmptyTable is unexported): a success.
const errEmptyTableMsg = "pebble: empty table"

func (h *health) flushEnded(info pebble.FlushInfo) {
	if info.Err == nil || info.Err.Error() == errEmptyTableMsg {
		h.bgFails.Store(0)
		h.flushErr.Store(nil)
		h.recovered("Pebble background work")
		return
	}
	err := info.Err
	h.bgFails.Add(1)
	h.flushErr.Store(&err)
	h.signal()
}

func (h *health) compactionEnded(info pebble.CompactionInfo) {
	switch {
	case info.Err == nil:
		h.bgFails.Store(0)
		h.recovered("Pebble background work")
	case !errors.Is(info.Err, pebble.ErrCancelledCompaction):
		h.bgFails.Add(1)
	}
}

// eventListener reports Pebble's background failures, and chains the
// listener the user may have set with WithPebbleOptions.
func (h *health) eventListener(user *pebble.EventListener) *pebble.EventListener {
	l := pebble.EventListener{
		// Failed flushes and compactions land here too, each retry again.
		BackgroundError: func(err error) { h.report("Pebble background work", err) },
		FlushEnd:        h.flushEnded,
		CompactionEnd:   h.compactionEnded,
		DiskSlow: func(info pebble.DiskSlowInfo) {
			h.report("disk", fmt.Errorf("slow: %s", info))
		},
	}
	if user != nil {
		l = pebble.TeeEventListener(l, *user)
	}
	return &l
}

// backoff delays the creation of a table file while flushes or
// compactions keep failing, so Pebble's immediate retries do not spin.
func (h *health) backoff() {
	n := h.bgFails.Load()
	if n <= 0 {
		return
	}
	d := min(backoffMin<<min(n-1, 16), backoffMax)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-h.closing:
	}
}

// stop records a fatal error on one of Pebble's own goroutines, which is
// then parked: the store fails, and nothing may wait for Pebble from now on.
func (h *health) stop(fe fatalError) {
	if !h.fatal.CompareAndSwap(nil, &fe) {
		return
	}
	h.fail(fe)
	h.log.Error("rmq: Pebble stopped; the store refuses writes, and this process cannot close or reopen the data directory", "dir", h.path, "err", fe.Error())
	close(h.stopped)
	h.signal()
}

// parkIfRotating stops the store and parks the calling goroutine forever
// if it is inside Pebble's log rotation, and returns otherwise. Pebble
// (v2.1.7) cannot fail a log rotation: rotateWAL panics on any error of
// closing the old log or creating the new one, at a moment it has
// released DB.mu, and the deferred DB.mu.Unlock of its caller (a commit
// whose batch did not fit the memtable, a flush) then kills the process
// with "fatal error: sync: unlock of unlocked mutex", which no recover
// can catch. Parked instead, the rotating goroutine (the committer or the
// reclaimer, never a caller's) keeps Pebble's commit lock: nothing can be
// written any more, and reads go on.
func (h *health) parkIfRotating(what string, err error) {
	if !onStack(rotateWALName) {
		return
	}
	h.stop(fatalError{msg: "pebble stopped: " + what + " failed while Pebble switched to a new log, which it cannot survive: " + err.Error(), cause: err})
	parkAfterFatal()
}

// rotateWALName is the function of Pebble that switches logs.
const rotateWALName = "github.com/cockroachdb/pebble/v2.(*DB).rotateWAL"

// fatalError is Pebble's fatal error, as an error: its cause (the first
// error among Fatalf's arguments) is kept, so errors.Is finds ENOSPC.
type fatalError struct {
	msg   string
	cause error
}

func (e fatalError) Error() string { return e.msg }
func (e fatalError) Unwrap() error { return e.cause }

// pebbleLogger keeps Pebble's errors (rate-limited) and drops its
// informational chatter (a line per flush and compaction).
//
// Pebble calls Fatalf where it cannot go on (a commit after its log
// failed, a MANIFEST write that failed), and its default logger exits the
// process. Here the store fails instead. If the caller of Pebble is a
// driver goroutine (inside guard), Fatalf panics and guard returns the
// error. On Pebble's own goroutines (flush, compaction) there is nobody to
// return to and Pebble must not run on (a half-written MANIFEST record
// followed by more would make the directory unopenable), so that
// goroutine is parked forever.
type pebbleLogger struct{ h *health }

func (pebbleLogger) Infof(string, ...any) {}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.h.reportAs("Pebble", format, fmt.Errorf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	fe := fatalError{msg: "pebble fatal: " + fmt.Sprintf(format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			fe.cause = err
			break
		}
	}
	if onStack(guardedName) && !onStack(rotateWALName) {
		// Pebble returns nowhere after Fatalf: guard recovers the panic,
		// the store fails and is closed (in bounded time) as failed. (Not
		// within a log rotation: see parkIfRotating.)
		l.h.fail(fe)
		panic(fe)
	}
	l.h.stop(fe)
	parkAfterFatal()
}

// parkAfterFatal blocks a Pebble goroutine that hit a fatal error forever.
//
//go:noinline
func parkAfterFatal() { select {} }

// guardedName is the function whose frame marks a goroutine that recovers
// Pebble's panics.
var guardedName = runtime.FuncForPC(reflect.ValueOf(guarded).Pointer()).Name()

// onStack reports whether function fn is on this goroutine's stack.
func onStack(fn string) bool {
	pcs := make([]uintptr, 256)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if f.Function == fn {
			return true
		}
		if !more {
			return false
		}
	}
}

// guarded runs fn and turns a panic inside Pebble (its fatal logger's, or
// its own panic(err) where a log rotation fails) into an error. Pebble's
// state after it is unknown, so the store fails: h.fail.
//
//go:noinline
func guarded(h *health, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch v := r.(type) {
			case fatalError:
				err = v
			case error:
				err = fmt.Errorf("pebble panicked: %w", v)
			default:
				err = fmt.Errorf("pebble panicked: %v", v)
			}
			h.fail(err)
		}
	}()
	return fn()
}

// healthFS is the file system Pebble and the value log use: the one
// configured, plus three changes. Creating a table file waits while
// background work keeps failing (h.backoff). Log files are preallocated
// in small steps: Pebble reserves 110% of the memtable size (70 MiB) for
// every log file at once and keeps up to five old ones for reuse, so a
// small store took 350 MB of disk. And a failure of the log files or the
// directory within a log rotation parks instead of returning (see
// parkIfRotating).
type healthFS struct {
	vfs.FS
	h *health
}

func isTableFile(name string) bool {
	return strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob")
}

func isLogFile(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs healthFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if isTableFile(name) {
		fs.h.backoff()
	}
	f, err := fs.FS.Create(name, category)
	return fs.wrapLogFile(name, f, err)
}

func (fs healthFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrapLogFile(newname, f, err)
}

// OpenDir: Pebble syncs the directory when it creates a log.
func (fs healthFS) OpenDir(name string) (vfs.File, error) {
	f, err := fs.FS.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return dirFile{File: f, h: fs.h}, nil
}

func (fs healthFS) Unwrap() vfs.FS { return fs.FS }

func (fs healthFS) wrapLogFile(name string, f vfs.File, err error) (vfs.File, error) {
	if !isLogFile(name) {
		return f, err
	}
	if err != nil {
		fs.h.parkIfRotating("creating Pebble's log "+name, err)
		return nil, err
	}
	return &logFile{File: f, h: fs.h}, nil
}

// dirFile is a directory Pebble syncs.
type dirFile struct {
	vfs.File
	h *health
}

func (d dirFile) Sync() error {
	err := d.File.Sync()
	if err != nil {
		d.h.parkIfRotating("syncing the directory of Pebble's log", err)
	}
	return err
}

// logPreallocStep is how far ahead of its writes a log file is
// preallocated. Preallocating at all matters: without it, 8 synced
// appenders in group mode ran at ~0.6 of the speed with Pebble's
// preallocation (each fdatasync then allocates blocks).
const logPreallocStep = 1 << 20

// logFile is one of Pebble's log files. It is preallocated
// logPreallocStep ahead of what was written instead of Pebble's 70 MiB at
// once (Pebble writes a log from the start, sequentially, from one
// goroutine).
//
// And a failed write or sync fails the store the moment it happens, before
// Pebble learns of it: Pebble keeps a log error forever, and the next
// commit that sees it panics holding Pebble's commit lock, so nothing may
// enter Pebble after it (the committer checks the store first; see
// committer). Closing a failed log, or any failure, within a log rotation
// parks (see parkIfRotating).
type logFile struct {
	vfs.File
	h *health
	// failed is the first failed write or sync of this file.
	failed             atomic.Pointer[error]
	written, allocated int64
}

// Preallocate drops Pebble's request; Write preallocates instead.
func (*logFile) Preallocate(offset, length int64) error { return nil }

func (f *logFile) Write(p []byte) (int, error) {
	if end := f.written + int64(len(p)); end > f.allocated {
		next := (end/logPreallocStep + 1) * logPreallocStep
		// Like Pebble, ignore a failure: the write reports a full disk.
		_ = f.File.Preallocate(f.allocated, next-f.allocated)
		f.allocated = next
	}
	n, err := f.File.Write(p)
	f.written += int64(n)
	return n, f.check(err)
}

func (f *logFile) Sync() error     { return f.check(f.File.Sync()) }
func (f *logFile) SyncData() error { return f.check(f.File.SyncData()) }

func (f *logFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	return full, f.check(err)
}

// Close closes the file; a log that failed is closed only by a rotation
// (which parks here) or by Pebble's Close.
func (f *logFile) Close() error {
	err := f.File.Close()
	if p := f.failed.Load(); p != nil {
		f.h.parkIfRotating("Pebble's log", *p)
	}
	if err != nil {
		f.h.parkIfRotating("closing Pebble's log", err)
	}
	return err
}

func (f *logFile) Stat() (vfs.FileInfo, error) {
	fi, err := f.File.Stat()
	if err != nil {
		f.h.parkIfRotating("stat of Pebble's new log", err)
	}
	return fi, err
}

func (f *logFile) check(err error) error {
	if err != nil {
		f.failed.CompareAndSwap(nil, &err)
		f.h.fail(fmt.Errorf("pebble's log: %w", err))
		f.h.parkIfRotating("Pebble's log", err)
	}
	return err
}
