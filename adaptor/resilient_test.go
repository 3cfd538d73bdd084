package adaptor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// TestResilientScannerUnderFaults appends through a driver that fails and
// delays appends, fails scanners and reads, and replays on reopen, until at
// at least 1000 faults hit the scanners (and more the appends); scanners opened before, during and after
// must deliver every acked message exactly once, in order, byte-identical.
func TestResilientScannerUnderFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache int
	}{{"backend", 0}, {"cache", 1 << 16}} {
		t.Run(tc.name, func(t *testing.T) {
			f := faults{
				ScanFail: 1, ScanFailAfter: 16, ReadFail: 0.2, ReplayOnReopen: true,
				AppendFail: 0.15, AppendUnknown: 0.05, AppendDelay: 100 * time.Microsecond,
			}
			runFaultHistory(t, f, tc.cache, 1000)
		})
	}
}

func runFaultHistory(t *testing.T, f faults, cacheBytes int, wantFaults int64) {
	impl, err := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	if err != nil {
		t.Fatal(err)
	}
	fo := newFaultyOpener(impl, f, uint64(time.Now().UnixNano()))
	o := adaptor.NewOpener(memory.Name, fo,
		adaptor.WithScannerBackoff(20*time.Microsecond, time.Millisecond),
		adaptor.WithWriteAheadCache(cacheBytes))
	defer o.Close()
	ch := newChannel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Opening writes the fence record, which may hit an injected fault.
	var w wal.WAL
	for w == nil {
		w, err = o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: ch, Term: 1}})
		if err != nil && !wal.IsRetryable(err) && !errors.Is(err, wal.ErrOutcomeUnknown) {
			t.Fatal(err)
		}
	}
	hist := walimplstest.NewHistory()
	endTag := ch + "/end/0"

	follow := func(reader string) {
		s, err := readRetrying(ctx, w, wal.ReadOption{Name: reader, ReadAheadBufferSize: 4})
		if err != nil {
			t.Errorf("reader %s: %v", reader, err)
			return
		}
		defer s.Close()
		for {
			select {
			case m, ok := <-s.Chan():
				if !ok {
					t.Errorf("reader %s ended: %v", reader, s.Error())
					return
				}
				hist.Delivered(reader, ch, appView(m))
				if tag := m.Properties()[walimplstest.TagProperty]; tag == endTag {
					return
				}
			case <-ctx.Done():
				t.Errorf("reader %s: no end marker before the deadline", reader)
				return
			}
		}
	}
	var readers sync.WaitGroup
	readers.Add(1)
	go func() { defer readers.Done(); follow("early") }()

	appendLoop := func(appender string, stop func(seq int) bool) {
		for seq := 0; !stop(seq) && ctx.Err() == nil; seq++ {
			_, err := histAppend(ctx, w, hist, ch, appender, seq)
			if err != nil && !wal.IsRetryable(err) && !errors.Is(err, wal.ErrOutcomeUnknown) {
				t.Errorf("appender %s: %v", appender, err)
				return
			}
		}
	}
	var appenders sync.WaitGroup
	for a := range 4 {
		appenders.Add(1)
		go func() {
			defer appenders.Done()
			appendLoop(fmt.Sprint("a", a), func(seq int) bool {
				return seq >= 100 && fo.Injected() >= wantFaults && fo.scanFaults.Load() >= wantFaults
			})
			if a == 0 {
				readers.Add(1)
				go func() { defer readers.Done(); follow("middle") }()
			}
		}()
	}
	appenders.Wait()
	// The end marker must be acked exactly once.
	fo.appendsOff.Store(true)
	a, msg := hist.NewAttempt(ch, "end", 0)
	res, err := w.Append(ctx, msg)
	if err != nil {
		t.Fatalf("end marker: %v", err)
	}
	hist.Done(a, res.MessageID, nil)
	readers.Add(1)
	go func() { defer readers.Done(); follow("late") }()
	readers.Wait()
	if got := fo.scanFaults.Load(); got < wantFaults {
		t.Fatalf("only %d scanner faults injected, want %d", got, wantFaults)
	}
	problems := hist.Check("early", "late")
	for i, p := range problems {
		if i < 5 {
			t.Error(p)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%d problems", len(problems))
		dumpHook(t, hist, problems)
	}
	t.Logf("%d acked, %d faults injected, %d of them on scanners", hist.Acked(), fo.Injected(), fo.scanFaults.Load())
}

// readRetrying opens a scanner, retrying Read's own transient failures as
// an application would.
var dumpHook = func(*testing.T, *walimplstest.History, []walimplstest.Problem) {}

func readRetrying(ctx context.Context, w wal.WAL, opt wal.ReadOption) (wal.Scanner, error) {
	for {
		s, err := w.Read(ctx, opt)
		if err == nil || !walimpls.IsRetryable(err) || ctx.Err() != nil {
			return s, err
		}
	}
}

// appView is m without the adaptor's reserved properties, as the History
// compares messages with what the application appended.
// histAppend appends the history's next attempt of writer and records its
// outcome.
func histAppend(ctx context.Context, w wal.WAL, hist *walimplstest.History, ch, writer string, seq int) (message.MessageID, error) {
	at, msg := hist.NewAttempt(ch, writer, seq)
	res, err := w.Append(ctx, msg)
	var id message.MessageID
	if res != nil {
		id = res.MessageID
	}
	hist.Done(at, id, err)
	return id, err
}

func appView(m message.ImmutableMessage) message.ImmutableMessage {
	props := message.Properties{}
	for k, v := range m.Properties() {
		if !strings.HasPrefix(k, message.ReservedPropertyPrefix) {
			props[k] = v
		}
	}
	return message.NewImmutableMessage(m.MessageID(), m.Channel(), m.Payload(), props)
}
