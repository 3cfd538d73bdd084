package adaptor_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// gateOpener holds every Append in the driver until the gate opens (or the
// append's ctx ends) and counts the appends that reached it.
type gateOpener struct {
	walimpls.OpenerImpls
	gate    chan struct{}
	entered chan struct{} // one token per append that reached the driver
	calls   atomic.Int64
}

func newGateOpener(t testing.TB) *gateOpener {
	impl, err := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	if err != nil {
		t.Fatal(err)
	}
	return &gateOpener{OpenerImpls: impl, gate: make(chan struct{}), entered: make(chan struct{}, 1024)}
}

func (g *gateOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	w, err := g.OpenerImpls.Open(ctx, opt)
	if err != nil {
		return nil, err
	}
	return &gateWAL{WALImpls: w, g: g}, nil
}

type gateWAL struct {
	walimpls.WALImpls
	g *gateOpener
}

func (w *gateWAL) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	w.g.calls.Add(1)
	if _, fence := msg.Properties()["_mqwal.fence"]; !fence {
		w.g.entered <- struct{}{}
		select {
		case <-w.g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return w.WALImpls.Append(ctx, msg)
}

// waitEntered waits until n appends are held in the driver.
func (g *gateOpener) waitEntered(t testing.TB, n int) {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for range n {
		select {
		case <-g.entered:
		case <-timer.C:
			t.Fatal("appends did not reach the driver")
		}
	}
}

func small(p string) message.MutableMessage { return message.NewMutableMessage([]byte(p), nil) }

func TestWALCloseIsOrderedIdempotentAndFinal(t *testing.T) {
	o := memoryOpener(t, nil)
	w := open(t, o, newChannel(t), 1, wal.ReadWrite)
	ids := appendN(t, w, 0, 2)
	s, err := w.Read(context.Background(), wal.ReadOption{Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if !w.IsAvailable() {
		t.Fatal("open WAL not available")
	}
	w.Close()
	w.Close()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("scanner still running after its WAL closed")
	}
	if !errors.Is(s.Error(), wal.ErrClosed) {
		t.Fatalf("scanner Error = %v, want ErrClosed", s.Error())
	}
	select {
	case <-w.Available():
	default:
		t.Fatal("Available not closed after Close")
	}
	if w.IsAvailable() {
		t.Fatal("IsAvailable after Close")
	}
	ctx := context.Background()
	if _, err := w.Append(ctx, small("x")); !errors.Is(err, wal.ErrClosed) {
		t.Fatalf("Append: %v", err)
	}
	got := make(chan error, 1)
	w.AppendAsync(ctx, small("x"), func(_ *wal.AppendResult, err error) { got <- err })
	if err := <-got; !errors.Is(err, wal.ErrClosed) {
		t.Fatalf("AppendAsync: %v", err)
	}
	if _, err := w.Read(ctx, wal.ReadOption{}); !errors.Is(err, wal.ErrClosed) {
		t.Fatalf("Read: %v", err)
	}
	if err := w.Truncate(ctx, ids[0]); !errors.Is(err, wal.ErrClosed) {
		t.Fatalf("Truncate: %v", err)
	}
}

func TestOpenerCloseClosesEverything(t *testing.T) {
	o, err := adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(memory.NewStore()))).Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var scanners []wal.Scanner
	var wals []wal.WAL
	for i := range 3 {
		w, err := o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: newChannel(t), Term: int64(i)}})
		if err != nil {
			t.Fatal(err)
		}
		s, err := w.Read(ctx, wal.ReadOption{})
		if err != nil {
			t.Fatal(err)
		}
		wals, scanners = append(wals, w), append(scanners, s)
	}
	o.Close()
	o.Close()
	for i, s := range scanners {
		<-s.Done()
		if !errors.Is(s.Error(), wal.ErrClosed) {
			t.Errorf("scanner %d: %v", i, s.Error())
		}
		if _, err := wals[i].Append(ctx, small("x")); !errors.Is(err, wal.ErrClosed) {
			t.Errorf("WAL %d Append: %v", i, err)
		}
	}
	if _, err := o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "x"}}); !errors.Is(err, wal.ErrClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
}

func TestOpenValidates(t *testing.T) {
	o := memoryOpener(t, nil)
	for name, opt := range map[string]*wal.OpenOption{
		"nil":  nil,
		"name": {Channel: wal.Channel{Name: ""}},
		"term": {Channel: wal.Channel{Name: "ok", Term: -1}},
		"mode": {Channel: wal.Channel{Name: "ok", AccessMode: 7}},
	} {
		if _, err := o.Open(context.Background(), opt); !errors.Is(err, wal.ErrInvalidArgument) {
			t.Errorf("%s: got %v, want ErrInvalidArgument", name, err)
		}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.Open(cancelled, &wal.OpenOption{Channel: wal.Channel{Name: "ok"}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
}

func TestCloseWaitsForInFlightAppends(t *testing.T) {
	g := newGateOpener(t)
	o := adaptor.NewOpener(memory.Name, g)
	defer o.Close()
	w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: newChannel(t), Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	results := make(chan error, 4)
	for range 3 {
		w.AppendAsync(ctx, small("async"), func(_ *wal.AppendResult, err error) { results <- err })
	}
	go func() { _, err := w.Append(ctx, small("sync")); results <- err }()
	g.waitEntered(t, 4)

	closed := make(chan struct{})
	go func() { w.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while appends were in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(g.gate)
	<-closed
	for range 4 {
		if err := <-results; err != nil {
			t.Fatalf("in-flight append failed across Close: %v", err)
		}
	}
}

func TestCloseTimeoutCancelsInFlightAppends(t *testing.T) {
	g := newGateOpener(t)
	o := adaptor.NewOpener(memory.Name, g, adaptor.WithCloseTimeout(20*time.Millisecond))
	defer o.Close()
	w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: newChannel(t), Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	w.AppendAsync(context.Background(), small("stuck"), func(_ *wal.AppendResult, err error) { res <- err })
	g.waitEntered(t, 1)
	start := time.Now()
	w.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if err := <-res; !errors.Is(err, wal.ErrClosed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled append: %v, want ErrClosed wrapping the driver's context.Canceled", err)
	}
}

func TestAppendAsyncCallsBackExactlyOnceAcrossClose(t *testing.T) {
	o := memoryOpener(t, nil)
	w := open(t, o, newChannel(t), 1, wal.ReadWrite)
	var calls, callbacks atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				calls.Add(1)
				w.AppendAsync(context.Background(), small("x"), func(*wal.AppendResult, error) { callbacks.Add(1) })
			}
		}()
	}
	w.Close()
	wg.Wait()
	// Close waited for every admitted append; the rest were refused inline.
	if calls.Load() != callbacks.Load() {
		t.Fatalf("%d AppendAsync calls, %d callbacks", calls.Load(), callbacks.Load())
	}
}

func TestFlowControlBlocksWhenFull(t *testing.T) {
	g := newGateOpener(t)
	o := adaptor.NewOpener(memory.Name, g, adaptor.WithMaxInFlightBytes(100))
	defer o.Close()
	w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: newChannel(t), Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	first := make(chan error, 1)
	go func() {
		_, err := w.Append(context.Background(), message.NewMutableMessage(make([]byte, 80), nil))
		first <- err
	}()
	g.waitEntered(t, 1)
	callsBefore := g.calls.Load()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := w.Append(ctx, message.NewMutableMessage(make([]byte, 50), nil)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("append into a full pipe: %v, want DeadlineExceeded", err)
	}
	if g.calls.Load() != callsBefore {
		t.Fatal("an append that did not fit reached the driver")
	}
	asyncReturned := make(chan struct{})
	second := make(chan error, 1)
	go func() {
		w.AppendAsync(context.Background(), message.NewMutableMessage(make([]byte, 50), nil), func(_ *wal.AppendResult, err error) { second <- err })
		close(asyncReturned)
	}()
	select {
	case <-asyncReturned:
		t.Fatal("AppendAsync did not block on a full pipe")
	case <-time.After(30 * time.Millisecond):
	}
	close(g.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-asyncReturned
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	// A message larger than the whole bound still goes through, alone.
	if _, err := w.Append(context.Background(), message.NewMutableMessage(make([]byte, 500), nil)); err != nil {
		t.Fatalf("oversized for the pipe: %v", err)
	}
}

func TestSizeLimit(t *testing.T) {
	g := newGateOpener(t)
	close(g.gate)
	o := adaptor.NewOpener(memory.Name, g)
	defer o.Close()
	limit := o.Capabilities().MaxMessageSize
	if limit != memory.DefaultMaxMessageSize-64 {
		t.Fatalf("Capabilities().MaxMessageSize = %d, want the driver's minus the adaptor's reserve", limit)
	}
	w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: newChannel(t), Term: 123456789}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Append(context.Background(), message.NewMutableMessage(make([]byte, limit), nil)); err != nil {
		t.Fatalf("message of exactly the advertised limit: %v", err)
	}
	calls := g.calls.Load()
	if _, err := w.Append(context.Background(), message.NewMutableMessage(make([]byte, limit-2), message.Properties{"k": "vv"})); !errors.Is(err, wal.ErrMessageTooLarge) {
		t.Fatalf("one byte over: %v", err)
	}
	if g.calls.Load() != calls {
		t.Fatal("the driver was called for a message over the limit")
	}

	o2 := adaptor.NewOpener(memory.Name, newGateOpener(t), adaptor.WithMaxMessageSize(10))
	defer o2.Close()
	w2, err := o2.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: newChannel(t), Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if _, err := w2.Append(context.Background(), message.NewMutableMessage(make([]byte, 11), nil)); !errors.Is(err, wal.ErrMessageTooLarge) {
		t.Fatalf("WithMaxMessageSize(10), 11 bytes: %v", err)
	}
}

// TestCloseIsBoundedWhenCallbacksBlock: an AppendAsync callback that never
// returns (here until the test lets it) does not hold Close beyond about
// twice the close timeout; Close logs and gives up on it.
func TestCloseIsBoundedWhenCallbacksBlock(t *testing.T) {
	o := adaptor.NewOpener(memory.Name, newGateOpener(t), adaptor.WithCloseTimeout(20*time.Millisecond))
	defer o.Close()
	w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: newChannel(t), Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	release, inCallback := make(chan struct{}), make(chan struct{})
	defer close(release)
	w.AppendAsync(context.Background(), small("x"), func(*wal.AppendResult, error) {
		close(inCallback)
		<-release
	})
	closed := make(chan struct{})
	go func() { w.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close still waiting for a blocked callback after 5s (close timeout 20ms)")
	}
	select {
	case <-inCallback: // the append was cancelled and its callback called
	case <-time.After(5 * time.Second):
		t.Fatal("the append held in the driver was not cancelled by Close")
	}
}

// An opener closes its WALs with a few goroutines, not one per WAL, and
// gives them one deadline: WALs stuck on appends time out together, not
// one batch of workers after another.
func TestOpenerCloseStuckWALsShareOneDeadline(t *testing.T) {
	const n, timeout = 320, 300 * time.Millisecond
	g := newGateOpener(t)
	g.entered = make(chan struct{}, n)
	o := adaptor.NewOpener(memory.Name, g, adaptor.WithCloseTimeout(timeout))
	done := make(chan error, n)
	for range n {
		w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: newChannel(t), Term: 1}})
		if err != nil {
			t.Fatal(err)
		}
		w.AppendAsync(context.Background(), small("stuck"), func(_ *wal.AppendResult, err error) { done <- err })
	}
	g.waitEntered(t, n)
	start := time.Now()
	o.Close()
	// Ten rounds of 32 workers would take 10 close timeouts at least.
	if d := time.Since(start); d > 8*timeout {
		t.Fatalf("closing %d stuck WALs took %v, close timeout %v", n, d, timeout)
	}
	for range n {
		if err := <-done; !errors.Is(err, wal.ErrClosed) {
			t.Fatalf("stuck append: %v, want ErrClosed", err)
		}
	}
}
