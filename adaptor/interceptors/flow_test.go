package interceptors_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor/interceptors"
)

func TestFlowLimiterBoundsAndFIFO(t *testing.T) {
	f := interceptors.NewFlowLimiter(100)
	ctx := context.Background()
	if err := f.Acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	// A big waiter queues first; a small one behind it must not overtake.
	bigDone, smallDone := make(chan struct{}), make(chan struct{})
	go func() { _ = f.Acquire(ctx, 70); close(bigDone) }()
	waitFor(t, func() bool { return waiters(f) == 1 })
	go func() { _ = f.Acquire(ctx, 10); close(smallDone) }()
	select {
	case <-smallDone:
		t.Fatal("small acquire overtook the queued big one")
	case <-time.After(20 * time.Millisecond):
	}
	f.Release(60)
	<-bigDone
	<-smallDone
	if got := f.InFlight(); got != 80 {
		t.Fatalf("InFlight = %d, want 80", got)
	}
	f.Release(70)
	f.Release(10)
	if got := f.InFlight(); got != 0 {
		t.Fatalf("InFlight = %d after releasing all", got)
	}
}

// waiters probes whether an Acquire of 1 byte would have to wait.
func waiters(f *interceptors.FlowLimiter) int {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Acquire(ctx, 1); err == nil {
		f.Release(1)
		return 0
	}
	return 1
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFlowLimiterCancelHoldsNothing(t *testing.T) {
	f := interceptors.NewFlowLimiter(10)
	if err := f.Acquire(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := f.Acquire(ctx, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	f.Release(10)
	if got := f.InFlight(); got != 0 {
		t.Fatalf("a cancelled Acquire left %d bytes held", got)
	}
	// Larger than the bound: admitted alone, clamped.
	if err := f.Acquire(context.Background(), 1000); err != nil {
		t.Fatal(err)
	}
	if got := f.InFlight(); got != 10 {
		t.Fatalf("InFlight = %d, want the clamp 10", got)
	}
	f.Release(1000)
	var unbounded *interceptors.FlowLimiter
	if err := unbounded.Acquire(context.Background(), 1<<40); err != nil {
		t.Fatal(err)
	}
	unbounded.Release(1 << 40)
}

func TestFlowLimiterNeverExceedsBound(t *testing.T) {
	const bound = 1000
	f := interceptors.NewFlowLimiter(bound)
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				n := int64(1 + (g*37+i*13)%300)
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%3)*time.Millisecond)
				if err := f.Acquire(ctx, n); err != nil {
					cancel()
					continue
				}
				cancel()
				h := held.Add(n)
				for p := peak.Load(); h > p && !peak.CompareAndSwap(p, h); p = peak.Load() {
				}
				held.Add(-n)
				f.Release(n)
			}
		}()
	}
	wg.Wait()
	if peak.Load() > bound {
		t.Fatalf("peak %d bytes in flight, bound %d", peak.Load(), bound)
	}
	if f.InFlight() != 0 {
		t.Fatalf("InFlight = %d at the end", f.InFlight())
	}
}
