package walimplstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/walimpls"
)

// R is what a case needs from its runner. *testing.T satisfies it; so does
// the recorder RunCase uses.
type R interface {
	Helper()
	Name() string
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	// Fatalf and Skipf end the case's goroutine (runtime.Goexit).
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	Cleanup(func())
}

// Fault disturbs the backend while the history checker runs: restart a
// broker, drop connections, move a partition leader. Inject returns once the
// fault has been applied; the backend is expected to recover by itself.
type Fault struct {
	Name   string
	Inject func(ctx context.Context) error
}

// Harness describes the backend under test.
type Harness struct {
	// NewOpener builds an opener on the backend under test. Every opener it
	// returns must reach the same data: the persistence case closes one and
	// reads through another.
	NewOpener func() (walimpls.OpenerImpls, error)
	// Faults are run, each in its own subtest, while the history checker's
	// appenders and scanners are busy. Optional.
	Faults []Fault
	// Timeout bounds each wait for a message or a Close; default 10s.
	Timeout time.Duration
	// QuietPeriod is how long a case waits to conclude that no message is
	// coming (DeliverLatest, StartAfter the last ID); default 200ms.
	QuietPeriod time.Duration
	// ChannelPrefix starts every channel name, so runs against a shared
	// broker never collide; default "wt<random>-".
	ChannelPrefix string
	// Scale multiplies the message counts of the concurrent cases; default 1.
	Scale int
	// ForeignAppend stores a record with payload in channel's log the way
	// another client of the backend would, not through a WAL of the driver
	// under test (a Kafka producer of the channel's topic), and returns
	// once it is durable. Set it for a backend other clients can write to:
	// the ForeignRecords case then checks that scanners deliver such records
	// in their place, a scanner of the channel's own writer included, and
	// that the driver does not declare ExclusiveLog. Optional: without it
	// there is no such case.
	ForeignAppend func(ctx context.Context, channel string, payload []byte) error
}

func (h Harness) withDefaults() Harness {
	if h.Timeout <= 0 {
		h.Timeout = 10 * time.Second
	}
	if h.QuietPeriod <= 0 {
		h.QuietPeriod = 200 * time.Millisecond
	}
	if h.ChannelPrefix == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		h.ChannelPrefix = "wt" + hex.EncodeToString(b[:]) + "-"
	}
	if h.Scale <= 0 {
		h.Scale = 1
	}
	return h
}

// Case is one named rule of the contract.
type Case struct {
	Name string
	Run  func(r R, h Harness)
}

// Cases returns every case, in the order Run runs them. ForeignRecords is
// listed only with Harness.ForeignAppend. Fault cases come last, one per
// Harness fault, named "HistoryUnderFault/<fault>".
func Cases(h Harness) []Case {
	cases := []Case{
		{"OptionValidation", testOptionValidation},
		{"RoundTrip", testRoundTrip},
		{"IDOrder", testIDOrder},
		{"MarshalRoundTrip", testMarshalRoundTrip},
		{"ChannelIsolation", testChannelIsolation},
		{"DeliverPolicies", testDeliverPolicies},
		{"Truncate", testTruncate},
		{"ReadOnly", testReadOnly},
		{"TermReopen", testTermReopen},
		{"CloseSemantics", testCloseSemantics},
		{"MessageTooLarge", testMessageTooLarge},
		{"Persistence", testPersistence},
		{"Fencing", testFencing},
		{"LatestID", testLatestID},
		{"Stat", testStat},
		{"ConcurrentAppenders", func(r R, h Harness) { runHistory(r, h, nil) }},
	}
	if h.ForeignAppend != nil {
		cases = append(cases, Case{"ForeignRecords", testForeignRecords})
	}
	for _, f := range h.Faults {
		cases = append(cases, Case{"HistoryUnderFault/" + f.Name, func(r R, h Harness) { runHistory(r, h, &f) }})
	}
	return cases
}

// Run runs every case as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.NewOpener == nil {
		t.Fatal("walimplstest: Harness.NewOpener is nil")
	}
	h = h.withDefaults()
	for _, c := range Cases(h) {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, h) })
	}
}

// Result is the outcome of one case run by RunCase.
type Result struct {
	Name     string
	Passed   bool
	Skipped  bool
	Duration time.Duration
	// Log holds Logf, Errorf, Fatalf and Skipf lines in order.
	Log []string
}

// RunCase runs c outside `go test`, in its own goroutine, and reports how it
// went. walctl conformance uses it; so does the harness self-test.
func RunCase(c Case, h Harness) Result {
	h = h.withDefaults()
	rec := &recorder{name: c.Name}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rec.runCleanups()
		defer func() {
			if p := recover(); p != nil {
				rec.Errorf("panic: %v", p)
			}
		}()
		c.Run(rec, h)
	}()
	<-done
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return Result{Name: c.Name, Passed: !rec.failed, Skipped: rec.skipped, Duration: time.Since(start), Log: rec.log}
}

// recorder is an R that keeps what a case says.
type recorder struct {
	name     string
	mu       sync.Mutex
	failed   bool
	skipped  bool
	log      []string
	cleanups []func()
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.name }
func (r *recorder) Failed() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.failed }

func (r *recorder) Logf(format string, args ...any) { r.add(false, format, args...) }

func (r *recorder) Errorf(format string, args ...any) { r.add(true, format, args...) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.add(true, format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	r.add(false, "skipped: "+format, args...)
	runtime.Goexit()
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *recorder) add(fail bool, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = r.failed || fail
	r.log = append(r.log, fmt.Sprintf(format, args...))
}

func (r *recorder) runCleanups() {
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		f := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		f()
	}
}
