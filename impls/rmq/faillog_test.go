package rmq

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// The store's log (the journal) failing. Pebble's own log used to be it,
// and Pebble cannot go on after its log failed, and in some moments (a log
// rotation) cannot even return: its goroutine then parked, and the
// directory stayed locked until the process exited. With the journal,
// Pebble's log is off and a journal failure is the store's alone. These
// tests still run the failure in a child process (failingLogChild) and
// check the directory after the child exited, as a restarted service
// would.

// envFailingLogChild makes the test binary run failingLogChild: its value
// is "concurrent <dir>" or "rotation <dir>".
const envFailingLogChild = "MQWAL_RMQ_FAILING_LOG_CHILD"

func failingLogChild() int {
	mode, dir, _ := strings.Cut(os.Getenv(envFailingLogChild), " ")
	switch mode {
	case "concurrent":
		return appendOnFailingLog(dir)
	case "rotation":
		return rotateOnFailingLog(dir)
	}
	fmt.Println("unknown mode", mode)
	return 2
}

const (
	failingLogRounds    = 5
	failingLogChannels  = 4
	failingLogAppenders = 8
)

func failingLogPayload(g, i int) string {
	return fmt.Sprintf("%d-%d-%s", g, i, strings.Repeat("x", 1000))
}

// appendOnFailingLog runs rounds of 8 appenders on 4 channels with a
// small memtable (so commits often rotate Pebble's memtable) in
// dir/<round>, until the journal fails under them. Output per round: "ack <round>
// <channel> <id> <g> <i>" per acknowledged append, "violation <round>
// ..." for an append acknowledged after another one had failed,
// "stopped <round> <bool>" (Pebble parked), "close <round> <duration>".
func appendOnFailingLog(dir string) int {
	for round := range failingLogRounds {
		sub := filepath.Join(dir, strconv.Itoa(round))
		fault := &diskFault{pick: failingDisk(journalSuffix)}
		// Odd rounds keep every message in the journal (threshold 0),
		// even ones put them in the value log and only their pointers in
		// the journal, unsynced.
		threshold := 1
		if round%2 == 1 {
			threshold = 0
		}
		o, err := NewBuilder(WithPath(sub), withFault(fault), WithValueLogThreshold(threshold),
			WithPebbleOptions(func(o *pebble.Options) { o.MemTableSize = 256 << 10 })).Build()
		if err != nil {
			fmt.Println("build:", err)
			return 2
		}
		var ws []walimpls.WALImpls
		for c := range failingLogChannels {
			w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: fmt.Sprint("ch", c), Term: 1}})
			if err != nil {
				fmt.Println("open:", err)
				return 2
			}
			ws = append(ws, w)
		}
		var out sync.Mutex
		var failed atomic.Bool
		var wg sync.WaitGroup
		for g := range failingLogAppenders {
			wg.Go(func() {
				for i := 0; ; i++ {
					if i == 300 && g == 0 {
						fault.on.Store(true)
					}
					sawFailure := failed.Load()
					c := g % failingLogChannels
					id, err := ws[c].Append(context.Background(), message.NewMutableMessage([]byte(failingLogPayload(g, i)), nil))
					if err != nil {
						failed.Store(true)
						return
					}
					out.Lock()
					if sawFailure {
						fmt.Println("violation", round, "append acknowledged after another one failed")
					}
					fmt.Println("ack", round, c, id.(helper.Int64ID).Value(), g, i)
					out.Unlock()
				}
			})
		}
		if !returnsWithin(wg.Wait, 30*time.Second) {
			fmt.Println("hang", round, "appenders did not return")
			return 1
		}
		start := time.Now()
		if !returnsWithin(o.Close, 30*time.Second) {
			fmt.Println("hang", round, "close did not return")
			return 1
		}
		fmt.Println("close", round, time.Since(start))
		fmt.Println("stopped", round, o.(*opener).store.health.fatal.Load() != nil)
	}
	return 0
}

// returnsWithin runs fn and reports whether it returned within d; if not,
// it writes every goroutine's stack to stderr.
func returnsWithin(fn func(), d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		fmt.Fprintf(os.Stderr, "%s", buf[:runtime.Stack(buf, true)])
		return false
	}
}

// TestConcurrentAppendsOnFailingLog: many appenders and a log that starts
// failing: every Append returns, none is acknowledged after one failed,
// Close returns, the process neither panics nor crashes, and after it
// exits the directory holds every acknowledged message. (A rotation after
// the log failed used to kill the test binary with "fatal error: sync:
// unlock of unlocked mutex" in about one round of a hundred; with many
// commits inside Pebble at once, one could meet the log's error and panic
// holding Pebble's commit lock, so the others waited forever.)
func TestConcurrentAppendsOnFailingLog(t *testing.T) {
	dir := t.TempDir()
	out := runChild(t, envFailingLogChild, "concurrent "+dir, 5*time.Minute)
	type ack struct{ c, id int64 }
	acked := make([]map[ack]string, failingLogRounds)
	for i := range acked {
		acked[i] = map[ack]string{}
	}
	stopped := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 6 && f[0] == "ack":
			n := make([]int, 5)
			for i := range n {
				n[i], _ = strconv.Atoi(f[i+1])
			}
			acked[n[0]][ack{int64(n[1]), int64(n[2])}] = failingLogPayload(n[3], n[4])
		case len(f) == 3 && f[0] == "stopped":
			if f[2] == "true" {
				stopped++
			}
		case len(f) == 3 && f[0] == "close":
			if d, err := time.ParseDuration(f[2]); err != nil || d > 15*time.Second {
				t.Errorf("round %s: close took %s", f[1], f[2])
			}
		default:
			t.Errorf("child: %s", l)
		}
	}
	t.Logf("Pebble stopped (a rotation met the failed log) in %d of %d rounds", stopped, failingLogRounds)
	for round, want := range acked {
		if len(want) == 0 {
			t.Errorf("round %d: nothing acknowledged", round)
		}
		o := newOpener(t, filepath.Join(dir, strconv.Itoa(round)), WithReadOnly())
		read := 0
		for c := range failingLogChannels {
			w := openWAL(t, o, fmt.Sprint("ch", c), 1, walimpls.ReadOnly)
			latest, err := w.(walimpls.LatestIDReader).LatestID(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if latest == nil {
				continue
			}
			for _, m := range readN(t, w, walimpls.DeliverAll(), int(latest.(helper.Int64ID).Value()+1)) {
				p, ok := want[ack{int64(c), m.MessageID().(helper.Int64ID).Value()}]
				if !ok {
					continue // not acknowledged: its outcome was unknown
				}
				if p != string(m.Payload()) {
					t.Fatalf("round %d, channel %d, %v: payload %.20q, want %.20q", round, c, m.MessageID(), m.Payload(), p)
				}
				read++
			}
		}
		o.Close()
		if read != len(want) {
			t.Errorf("round %d: %d acknowledged, %d of them read back", round, len(want), read)
		}
	}
}

// rotateOnFailingLog makes Pebble rotate its memtable (a flush) after
// the journal failed: the journal fails on the 11th append, and a flush
// runs straight on Pebble. Output: "first failure: <err>", "rotation:
// returned <err>" (or parked), "append: <err>", "append took: <d>",
// "read: <n>", "close: <d>", "reopen: <err>".
func rotateOnFailingLog(dir string) int {
	fault := &diskFault{pick: failingDisk(journalSuffix)}
	// Appends kept in the journal (threshold 0): its write is what fails.
	o, err := NewBuilder(WithPath(dir), withFault(fault), WithValueLogThreshold(0)).Build()
	if err != nil {
		fmt.Println("build:", err)
		return 2
	}
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "ch", Term: 1}})
	if err != nil {
		fmt.Println("open:", err)
		return 2
	}
	for i := range 10 {
		if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte(fmt.Sprint("m-", i)), nil)); err != nil {
			fmt.Println("append before the fault:", err)
			return 2
		}
	}
	fault.on.Store(true)
	_, err = w.Append(context.Background(), message.NewMutableMessage([]byte("failing"), nil))
	fmt.Println("first failure:", strings.ReplaceAll(fmt.Sprint(err), "\n", " "))
	s := o.(*opener).store
	returned := make(chan error, 1)
	go func() { returned <- s.guard(func() error { _, err := s.db.AsyncFlush(); return err }) }()
	select {
	case err := <-returned:
		fmt.Println("rotation: returned", err)
	case <-s.health.stopped:
		fmt.Println("rotation: parked")
	case <-time.After(20 * time.Second):
		fmt.Println("rotation: neither returned nor stopped Pebble")
		return 1
	}
	start := time.Now()
	_, err = w.Append(context.Background(), message.NewMutableMessage([]byte("after"), nil))
	fmt.Println("append:", strings.ReplaceAll(fmt.Sprint(err), "\n", " "))
	fmt.Println("append took:", time.Since(start))
	r, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		fmt.Println("read:", err)
		return 2
	}
	read := 0
	for read < 10 {
		select {
		case <-r.Chan():
			read++
		case <-time.After(10 * time.Second):
			fmt.Println("read: only", read)
			return 1
		}
	}
	r.Close()
	fmt.Println("read:", read)
	start = time.Now()
	o.Close()
	fmt.Println("close:", time.Since(start))
	_, err = NewBuilder(WithPath(dir)).Build()
	fmt.Println("reopen:", err)
	return 0
}

// TestRotationOnFailingLog: after the journal failed, Pebble rotating its
// memtable (which, while Pebble's log was the store's, met the failed log,
// panicked with DB.mu released and killed the process: "fatal error: sync:
// unlock of unlocked mutex"; later it parked) just works, since Pebble has
// no log to fail: appends fail at once with ErrStoreFailed naming the
// cause and the directory, reads go on, Close returns, and the directory
// opens again, in this process too, with every acknowledged message.
func TestRotationOnFailingLog(t *testing.T) {
	dir := t.TempDir()
	lines := childLines(runChild(t, envFailingLogChild, "rotation "+dir, 60*time.Second))
	if f := lines["first failure"]; !strings.Contains(f, "input/output error") || !strings.Contains(f, walimpls.ErrOutcomeUnknown.Error()) {
		t.Errorf("append that met the failed journal: %q, want an unknown outcome naming EIO", f)
	}
	if r := lines["rotation"]; r != "returned <nil>" {
		t.Errorf("rotation after the journal failed: %q, want it to return", r)
	}
	appendErr := lines["append"]
	for _, want := range []string{ErrStoreFailed.Error(), "input/output error", dir} {
		if !strings.Contains(appendErr, want) {
			t.Errorf("append after the rotation: %q, want it to say %q", appendErr, want)
		}
	}
	if d, err := time.ParseDuration(lines["append took"]); err != nil || d > time.Second {
		t.Errorf("append took %q", lines["append took"])
	}
	if lines["read"] != "10" {
		t.Errorf("read after the rotation: %q, want 10", lines["read"])
	}
	if d, err := time.ParseDuration(lines["close"]); err != nil || d > 15*time.Second {
		t.Errorf("close took %q", lines["close"])
	}
	if r := lines["reopen"]; r != "<nil>" {
		t.Errorf("reopen in the same process: %q, want it to open", r)
	}
	o := newOpener(t, dir)
	defer o.Close()
	for i, m := range readN(t, openWAL(t, o, "ch", 1, walimpls.ReadOnly), walimpls.DeliverAll(), 10) {
		if want := fmt.Sprint("m-", i); string(m.Payload()) != want {
			t.Fatalf("message %d = %q, want %q", i, m.Payload(), want)
		}
	}
}
