package rmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// envFatalChild makes the test binary run fatalChild on that directory.
const envFatalChild = "MQWAL_RMQ_FATAL_CHILD"

// fatalChild makes Pebble hit a fatal error on its own flush goroutine (a
// MANIFEST write fails after the flush wrote its table) and reports what
// the driver does: it must neither panic nor hang. A parked Pebble cannot
// be closed, so this runs in a process of its own. Exit 0 and lines
// "acked N", "append: <err>", "close: <dur>", "reopen: <err>".
func fatalChild() int {
	dir := os.Getenv(envFatalChild)
	fault := &diskFault{pick: failingDisk("MANIFEST")}
	o, err := NewBuilder(WithPath(dir), withFault(fault)).Build()
	if err != nil {
		fmt.Println("build:", err)
		return 2
	}
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "ch", Term: 1}})
	if err != nil {
		fmt.Println("open:", err)
		return 2
	}
	acked := 0
	appendOne := func() error {
		_, err := w.Append(context.Background(), message.NewMutableMessage([]byte(fmt.Sprintf("m-%d", acked)), nil))
		if err == nil {
			acked++
		}
		return err
	}
	for range 10 {
		if err := appendOne(); err != nil {
			fmt.Println("append before the fault:", err)
			return 2
		}
	}
	fault.on.Store(true)
	// The flush runs on Pebble's goroutine; only the rotation is ours.
	if err := o.(*opener).store.guard(func() error { _, err := o.(*opener).store.db.AsyncFlush(); return err }); err != nil {
		fmt.Println("flush:", err)
		return 2
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := appendOne()
		if err != nil {
			fmt.Println("acked", acked)
			fmt.Println("append:", strings.ReplaceAll(err.Error(), "\n", " "))
			break
		}
		if time.Now().After(deadline) {
			fmt.Println("appends still succeed 20 s after the fatal MANIFEST error")
			return 1
		}
		time.Sleep(time.Millisecond) // appending as a caller would, until refused
	}
	start := time.Now()
	o.Close()
	fmt.Println("close:", time.Since(start))
	_, err = NewBuilder(WithPath(dir)).Build()
	fmt.Println("reopen:", err)
	return 0
}

// TestBackgroundFatal: a fatal Pebble error on one of Pebble's goroutines
// fails the store (no later append is acknowledged), names its cause, does
// not panic the process (it did: "panic: pebble fatal: MANIFEST ..."), and
// Close returns; the directory is usable again from the next process, with
// every acknowledged message.
func TestBackgroundFatal(t *testing.T) {
	dir := t.TempDir()
	lines := childLines(runChild(t, envFatalChild, dir, 60*time.Second))
	appendErr := lines["append"]
	if !strings.Contains(appendErr, ErrStoreFailed.Error()) || !strings.Contains(appendErr, "MANIFEST") || !strings.Contains(appendErr, dir) {
		t.Errorf("append after the fatal error: %q, want ErrStoreFailed naming MANIFEST and %s", appendErr, dir)
	}
	if d, err := time.ParseDuration(lines["close"]); err != nil || d > 15*time.Second {
		t.Errorf("close took %q", lines["close"])
	}
	if r := lines["reopen"]; !strings.Contains(r, "held") {
		t.Errorf("reopen in the same process: %q, want the lock held by this process", r)
	}
	acked, err := strconv.Atoi(lines["acked"])
	if err != nil || acked < 10 {
		t.Fatalf("acked %q", lines["acked"])
	}
	o := newOpener(t, dir)
	defer o.Close()
	got := readN(t, openWAL(t, o, "ch", 1, walimpls.ReadOnly), walimpls.DeliverAll(), acked)
	for i, m := range got {
		if want := fmt.Sprintf("m-%d", i); string(m.Payload()) != want {
			t.Fatalf("message %d = %q, want %q", i, m.Payload(), want)
		}
	}
}

// logRecorder is a slog handler that keeps what it is given.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
	added   chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{added: make(chan struct{}, 1)} }

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec)
	r.mu.Unlock()
	select {
	case r.added <- struct{}{}:
	default:
	}
	return nil
}

func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }

func (r *logRecorder) WithGroup(string) slog.Handler { return r }

// count is the number of records at level whose message contains s.
func (r *logRecorder) count(level slog.Level, s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.records {
		if rec.Level == level && strings.Contains(rec.Message, s) {
			n++
		}
	}
	return n
}

// waitFor waits until a record at level containing s is there.
func (r *logRecorder) waitFor(t *testing.T, level slog.Level, s string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for r.count(level, s) == 0 {
		select {
		case <-r.added:
		case <-timeout:
			t.Fatalf("no %v record %q", level, s)
		}
	}
}

// TestBackgroundErrorsRateLimited: while every flush fails (a full disk),
// Pebble's retries do not spin (they were thousands a second) and the
// failure is logged once, then once more when a flush works again (it was
// a line per retry: 145 MB of them).
func TestBackgroundErrorsRateLimited(t *testing.T) {
	dir := t.TempDir()
	logs := newLogRecorder()
	fault := &diskFault{pick: fullDisk(".sst")}
	o := newOpener(t, dir, withFault(fault), WithLogger(slog.New(logs)))
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendN(t, w, 20, "m")
	fault.on.Store(true)
	s := o.(*opener).store
	if err := s.guard(func() error { _, err := s.db.AsyncFlush(); return err }); err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, slog.LevelError, "failed")
	start, hits := time.Now(), fault.hits.Load()
	<-time.After(1500 * time.Millisecond) // a window to count retries in
	retries := fault.hits.Load() - hits
	t.Logf("%d failed writes in %v", retries, time.Since(start))
	if retries > 15 {
		t.Errorf("%d failed table writes in 1.5 s: the flush retries spin", retries)
	}
	if n := logs.count(slog.LevelError, ""); n != 1 {
		t.Errorf("%d error records for one failure that repeats", n)
	}
	if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte("x"), nil)); !walimpls.IsRetryable(err) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("append while flushes fail = %v, want a retryable ENOSPC", err)
	}
	fault.on.Store(false)
	logs.waitFor(t, slog.LevelInfo, "works again")
	if n := logs.count(slog.LevelError, ""); n != 1 {
		t.Errorf("%d error records for one failure that repeats", n)
	}
	appendN(t, w, 1, "after")
	readN(t, w, walimpls.DeliverAll(), 21)
}

// TestFullDiskAppendWhileFlushFails: when Pebble's log still takes writes
// but its memtable flushes fail, appends fail fast and retryably instead of
// running into Pebble's write stall and hanging; they resume when the
// flush succeeds again, and nothing acked is lost.
func TestFullDiskAppendWhileFlushFails(t *testing.T) {
	dir := t.TempDir()
	fault := &diskFault{pick: fullDisk(".sst")}
	o := newOpener(t, dir, withFault(fault), WithPebbleOptions(func(o *pebble.Options) { o.MemTableSize = 1 << 20 }))
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	fault.on.Store(true)
	payload := strings.Repeat("p", 1000)
	acked := 0
	var failure error
	for i := 0; i < 20_000 && failure == nil; i++ {
		if _, err := appendWithin(t, w, payload, 20*time.Second); err != nil {
			failure = err
			break
		}
		acked++
	}
	if failure == nil {
		t.Fatalf("20000 appends of 1 KB with every flush failing all succeeded")
	}
	checkDiskError(t, "append while flushes fail", failure, dir, syscall.ENOSPC)
	if !walimpls.IsRetryable(failure) {
		t.Fatalf("append refused while flushes fail is not retryable: %v", failure)
	}
	fault.on.Store(false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := appendWithin(t, w, payload, 20*time.Second)
		if err == nil {
			acked++
			break
		}
		if !walimpls.IsRetryable(err) || time.Now().After(deadline) {
			t.Fatalf("append once the disk has room: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // a retrying caller, not a wait for a condition
	}
	readN(t, w, walimpls.DeliverAll(), acked)
}

// TestReportOncePerKind: each kind of failure (what failed, its errno) is
// logged once, a recovery once with the count, and the next failure after
// a recovery at once again.
func TestReportOncePerKind(t *testing.T) {
	logs := newLogRecorder()
	h := newHealth("/data", slog.New(logs))
	full := &os.PathError{Op: "write", Path: "/data/1.sst", Err: syscall.ENOSPC}
	broken := &os.PathError{Op: "write", Path: "/data/1.sst", Err: syscall.EIO}
	for range 100 {
		h.report("flush", full)
	}
	h.report("flush", broken)
	h.report("flush", broken)
	if n := logs.count(slog.LevelError, "flush failed"); n != 2 {
		t.Fatalf("%d error records for 102 failures of 2 kinds, want 2", n)
	}
	h.recovered("flush")
	if n := logs.count(slog.LevelInfo, "flush works again"); n != 1 {
		t.Fatalf("%d recovery records, want 1", n)
	}
	logs.mu.Lock()
	rec := logs.records[len(logs.records)-1]
	logs.mu.Unlock()
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "failures" && a.Value.Int64() != 102 {
			t.Errorf("recovery counts %v failures, want 102", a.Value)
		}
		return true
	})
	h.recovered("flush")
	h.report("flush", full)
	if n := logs.count(slog.LevelError, "flush failed"); n != 3 {
		t.Fatalf("a failure after the recovery is not logged: %d error records", n)
	}
}
