package interceptors

import (
	"context"
	"sync"
)

// FlowLimiter bounds the bytes of appends in flight on one WAL. The adaptor
// acquires a message's size before the interceptor chain runs, in the
// caller's goroutine, so that AppendAsync blocks too when the pipe is full;
// that is why it is not an AppendInterceptor. Waiters are served in FIFO
// order, so a large message is not starved by small ones.
type FlowLimiter struct {
	max int64

	mu      sync.Mutex
	used    int64
	waiters []*flowWaiter
}

type flowWaiter struct {
	n     int64
	ready chan struct{}
}

// NewFlowLimiter allows max bytes in flight; max <= 0 means no bound.
func NewFlowLimiter(max int64) *FlowLimiter { return &FlowLimiter{max: max} }

// clamp lets a message larger than the whole bound through alone.
func (f *FlowLimiter) clamp(n int64) int64 { return min(max(n, 0), f.max) }

// Acquire waits until n bytes fit or ctx ends (then it returns ctx's error
// and holds nothing). Every successful Acquire must be paired with Release(n).
func (f *FlowLimiter) Acquire(ctx context.Context, n int64) error {
	if f == nil || f.max <= 0 {
		return nil
	}
	n = f.clamp(n)
	f.mu.Lock()
	if len(f.waiters) == 0 && f.used+n <= f.max {
		f.used += n
		f.mu.Unlock()
		return nil
	}
	w := &flowWaiter{n: n, ready: make(chan struct{})}
	f.waiters = append(f.waiters, w)
	f.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-w.ready: // granted while we gave up: hand it back
		f.used -= n
		f.grantLocked()
	default:
		for i, x := range f.waiters {
			if x == w {
				f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
				break
			}
		}
		f.grantLocked() // the head may have changed
	}
	return ctx.Err()
}

// Release returns n bytes acquired before.
func (f *FlowLimiter) Release(n int64) {
	if f == nil || f.max <= 0 {
		return
	}
	f.mu.Lock()
	f.used -= f.clamp(n)
	f.grantLocked()
	f.mu.Unlock()
}

// InFlight is the number of bytes held now.
func (f *FlowLimiter) InFlight() int64 {
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used
}

func (f *FlowLimiter) grantLocked() {
	for len(f.waiters) > 0 && f.used+f.waiters[0].n <= f.max {
		w := f.waiters[0]
		f.waiters[0] = nil
		f.waiters = f.waiters[1:]
		f.used += w.n
		close(w.ready)
	}
}
