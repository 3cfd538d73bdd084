package adaptor_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// faults configures faultyOpener. Probabilities are per call; zero turns a
// fault off.
type faults struct {
	// ScanFail: a driver scanner fails with ErrUnavailable after a random
	// number (0..ScanFailAfter) of messages.
	ScanFail      float64
	ScanFailAfter int
	// ReadFail: Read fails with ErrUnavailable before opening anything.
	ReadFail float64
	// ReplayOnReopen: Read with StartAfter(id) opens at StartFrom(id), so the
	// scanner repeats id, as a backend that can only seek approximately does.
	ReplayOnReopen bool
	// AppendFail: Append fails with ErrUnavailable, nothing written.
	AppendFail float64
	// AppendUnknown: Append stores the message, then reports ErrOutcomeUnknown.
	AppendUnknown float64
	// AppendDelay: Append sleeps up to this long first (reorders completions).
	AppendDelay time.Duration
}

// faultyOpener wraps a driver opener and injects faults; Injected counts them.
type faultyOpener struct {
	walimpls.OpenerImpls
	f        faults
	mu       sync.Mutex
	rng      *rand.Rand
	injected atomic.Int64
	// scanFaults counts the faults that hit readers (Read and scanners).
	scanFaults atomic.Int64
	// armed switches the faults on (Fault.Inject for the harness arms it).
	armed atomic.Bool
	// appendsOff spares appends, e.g. an end marker that must be acked once.
	appendsOff atomic.Bool
	// kick, if set, fails every scanner running when it is kicked.
	kick *kicker
	// hold, if set, stops every driver scanner before it hands on a message
	// while the gate is closed.
	hold *gate
	// reads counts the driver scanners opened (Read calls that succeeded),
	// running those still running.
	reads, running atomic.Int64
}

// gate is open or closed; wait returns a channel that is closed while it is
// open.
type gate struct {
	mu   sync.Mutex
	open chan struct{}
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gate) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func newFaultyOpener(inner walimpls.OpenerImpls, f faults, seed uint64) *faultyOpener {
	o := &faultyOpener{OpenerImpls: inner, f: f, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	o.armed.Store(true)
	return o
}

func (o *faultyOpener) Injected() int64 { return o.injected.Load() }

// roll returns true with probability p while armed, and counts it.
func (o *faultyOpener) roll(p float64) bool {
	if p <= 0 || !o.armed.Load() {
		return false
	}
	o.mu.Lock()
	hit := o.rng.Float64() < p
	o.mu.Unlock()
	if hit {
		o.injected.Add(1)
	}
	return hit
}

func (o *faultyOpener) intN(n int) int {
	if n <= 0 {
		return 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rng.IntN(n + 1)
}

func (o *faultyOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	w, err := o.OpenerImpls.Open(ctx, opt)
	if err != nil {
		return nil, err
	}
	return &faultyWAL{WALImpls: w, o: o}, nil
}

type faultyWAL struct {
	walimpls.WALImpls
	o *faultyOpener
}

var errInjected = fmt.Errorf("%w: injected fault", walimpls.ErrUnavailable)

func (w *faultyWAL) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	if d := w.o.f.AppendDelay; d > 0 && w.o.armed.Load() {
		if n := w.o.intN(int(d / time.Microsecond)); n > 0 {
			t := time.NewTimer(time.Duration(n) * time.Microsecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
	}
	if w.o.appendsOff.Load() {
		return w.WALImpls.Append(ctx, msg)
	}
	if w.o.roll(w.o.f.AppendFail) {
		return nil, errInjected
	}
	id, err := w.WALImpls.Append(ctx, msg)
	if err == nil && w.o.roll(w.o.f.AppendUnknown) {
		return nil, fmt.Errorf("%w: injected after storing %v", walimpls.ErrOutcomeUnknown, id)
	}
	return id, err
}

func (w *faultyWAL) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	if w.o.roll(w.o.f.ReadFail) {
		w.o.scanFaults.Add(1)
		return nil, errInjected
	}
	if w.o.f.ReplayOnReopen && opt.DeliverPolicy.Kind() == walimpls.DeliverKindStartAfter {
		opt.DeliverPolicy = walimpls.StartFrom(opt.DeliverPolicy.ID())
	}
	inner, err := w.WALImpls.Read(ctx, opt)
	if err != nil {
		return nil, err
	}
	w.o.reads.Add(1)
	w.o.running.Add(1)
	failAfter := -1
	if w.o.roll(w.o.f.ScanFail) {
		failAfter = w.o.intN(w.o.f.ScanFailAfter)
	}
	var kicked <-chan struct{}
	if w.o.kick != nil {
		kicked = w.o.kick.current()
	}
	return helper.NewScanner(opt.Name, opt.BufferSize(), func(ctx context.Context, emit helper.Emit) error {
		defer w.o.running.Add(-1)
		defer inner.Close()
		for n := 0; ; n++ {
			if n == failAfter {
				w.o.scanFaults.Add(1)
				return errInjected
			}
			select {
			case m, ok := <-inner.Chan():
				if !ok {
					return inner.Error()
				}
				if w.o.hold != nil {
					select {
					case <-w.o.hold.wait():
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				if err := emit(m); err != nil {
					return err
				}
			case <-kicked:
				w.o.injected.Add(1)
				w.o.scanFaults.Add(1)
				return errInjected
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}), nil
}
