package adaptor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// errClosedByCaller marks a Close by the scanner's consumer, after which
// Error stays nil.
var errClosedByCaller = errors.New("scanner closed by its caller")

// switchCheckEvery bounds how many backend messages a scanner reads between
// two looks for its position in the write-ahead cache, when the driver
// scanner never runs dry.
const switchCheckEvery = 64

// cacheIdleRecheck is how long a scanner tails an unchanged cache before it
// reads the backend again. The cache holds only this WAL's appends; if a
// higher term took the channel over elsewhere and this WAL appends nothing
// more, that is how its scanners get to see the new owner's messages.
//
// Reading the backend again costs no reconnect: a scanner that switches to
// the cache keeps its driver scanner open, unread (paused), and resumes it,
// dropping what the cache delivered meanwhile. Only once the cache has
// delivered more than resumeWindow messages since the switch is the paused
// scanner closed; the next return to the backend then reopens.
const cacheIdleRecheck = time.Second

// resumeWindow is how many cache deliveries after the switch a paused
// driver scanner is still resumed rather than reopened. A paused driver
// scanner reads ahead what the cache delivers, up to its buffer, so it
// holds about this many messages: small, so that thousands of tailing
// scanners on busy channels do not hold a second copy of their messages
// (with its 128-message buffer, 1,000 scanners of 62 messages each held
// 62 MiB); enough for a quiet channel, which gets a message or so per
// idle period.
const resumeWindow = 8

// scanner is a wal.Scanner. One goroutine (run) reads either the driver
// scanner (catch-up) or the WAL's write-ahead cache (tailing), runs the read
// hooks and filters, and delivers.
type scanner struct {
	w      *walAdaptor
	opt    wal.ReadOption
	hooks  []interceptors.ReadHook
	log    *slog.Logger
	ch     chan message.ImmutableMessage
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelCauseFunc

	// Owned by run, except while the scanner is parked on the cache: then
	// last and pcursor belong to the holder of the cache's lock.
	inner   walimpls.ScannerImpls
	last    message.MessageID // last message read from either source, delivered or not
	pcursor uint64            // cache position while parked
	wakeAt  uint64            // while parked: wake the scanner at this position (0: never)

	// paused is the driver scanner kept, unread, while the scanner tails
	// the cache; pausedAt is the cache position where it was paused.
	paused   walimpls.ScannerImpls
	pausedAt uint64
	buf      []cacheEntry // tail's batch

	// stats, read by tests (export_test.go)
	fromCache, switchesIn, switchesOut atomic.Int64

	startOnce sync.Once
	mu        sync.Mutex
	err       error
}

var _ wal.Scanner = (*scanner)(nil)

// newScanner builds the scanner and its read hooks; claims (the driver's,
// see walimpls.ClaimReader) seed the hooks that fence by them.
func newScanner(w *walAdaptor, opt wal.ReadOption, inner walimpls.ScannerImpls, claims []walimpls.Claim) *scanner {
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &scanner{
		w:      w,
		opt:    opt,
		log:    withAttrs(w.log, slog.String("scanner", opt.Name)),
		ch:     make(chan message.ImmutableMessage, opt.Impls().BufferSize()),
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
		inner:  inner,
	}
	for _, ri := range w.reads {
		if h := ri.NewReadHook(opt); h != nil {
			if cs, ok := h.(interceptors.ClaimSeeder); ok && len(claims) > 0 {
				cs.SeedClaims(claims)
			}
			s.hooks = append(s.hooks, h)
		}
	}
	return s
}

func (s *scanner) start() { s.startOnce.Do(func() { go s.run() }) }

func (s *scanner) Name() string                          { return s.opt.Name }
func (s *scanner) Chan() <-chan message.ImmutableMessage { return s.ch }
func (s *scanner) Done() <-chan struct{}                 { return s.done }

func (s *scanner) Error() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *scanner) Close() error {
	select {
	case <-s.done:
		return s.Error()
	default:
	}
	s.stop(errClosedByCaller)
	return s.Error()
}

// stop ends the scanner with cause as its Error and waits for it; a scanner
// that was never started is finished here.
func (s *scanner) stop(cause error) {
	s.cancel(cause)
	s.startOnce.Do(func() { go s.run() })
	<-s.done
}

func (s *scanner) run() {
	err := s.loop()
	if cause := context.Cause(s.ctx); cause != nil {
		err = cause
	}
	if errors.Is(err, errClosedByCaller) {
		err = nil
	}
	if s.inner != nil {
		_ = s.inner.Close()
	}
	s.closePaused()
	if err != nil && !errors.Is(err, wal.ErrClosed) {
		s.log.Warn("scanner failed", slog.Any("error", err))
	}
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	close(s.ch)
	// The hooks hear of the end before Close returns, so a caller that
	// closed a scanner sees it gone from its metrics.
	if s.w.removeScanner(s) {
		e := ScannerClosedEvent{Scanner: s.opt.Name, Err: err}
		for _, h := range s.w.hooks.scannerClosed {
			h.OnScannerClosed(s.w.info, e)
		}
	}
	close(s.done)
}

func (s *scanner) loop() error {
	var cursor uint64 // next cache index, in tailing mode
	sinceCheck := 0
	for {
		if s.ctx.Err() != nil {
			return nil
		}
		if s.inner == nil {
			var ok bool
			var err error
			if cursor, ok, err = s.tail(cursor); err != nil {
				return err
			}
			if !ok {
				// The window moved past us (or was idle): catch up from
				// the backend, with the paused driver scanner if it is
				// not too far behind.
				s.switchesOut.Add(1)
				s.switched(false)
				if s.paused != nil && cursor-s.pausedAt <= resumeWindow {
					s.inner, s.paused = s.paused, nil
				} else {
					s.closePaused()
					if err := s.reopen(nil); err != nil {
						return err
					}
				}
			}
			continue
		}
		select {
		case msg, ok := <-s.inner.Chan():
			if !ok {
				cause := s.inner.Error()
				if cause == nil {
					// Only our own Close ends a driver scanner without an error.
					cause = fmt.Errorf("%w: driver scanner of %s ended", wal.ErrClosed, s.w.describe())
				}
				if err := s.reopen(cause); err != nil {
					return err
				}
				continue
			}
			if s.last != nil && msg.MessageID().LTE(s.last) {
				continue // a reconnect replayed it
			}
			s.last = msg.MessageID()
			if err := s.deliver(msg, false); err != nil {
				return nil
			}
			if c := s.w.cache; c != nil {
				if sinceCheck++; sinceCheck >= switchCheckEvery || len(s.inner.Chan()) == 0 {
					sinceCheck = 0
					if next, ok := c.after(s.last); ok {
						s.switchesIn.Add(1)
						s.switched(true)
						s.paused, s.pausedAt = s.inner, next
						s.inner = nil
						cursor = next
					}
				}
			}
		case <-s.ctx.Done():
			return nil
		}
	}
}

// switched tells the WAL's test hook, if any, of a switch.
func (s *scanner) switched(toCache bool) {
	if h := s.w.switchHook; h != nil {
		h(s.opt.Name, toCache)
	}
}

// closePaused closes the paused driver scanner, if any.
func (s *scanner) closePaused() {
	if s.paused != nil {
		_ = s.paused.Close()
		s.paused = nil
	}
}

// tail delivers from the cache starting at cursor; caught up, it parks the
// scanner so that publishers deliver new entries directly, and waits to be
// woken. ok is false when cursor has left the window (or the cache was idle
// for cacheIdleRecheck).
func (s *scanner) tail(cursor uint64) (next uint64, ok bool, err error) {
	c := s.w.cache
	var wakeAt uint64
	if s.paused != nil {
		wakeAt = s.pausedAt + resumeWindow + 1
		if cursor >= wakeAt {
			// Too far ahead of the paused driver scanner to resume it.
			s.closePaused()
			wakeAt = 0
		}
	}
	if s.buf == nil {
		// On the heap, not the stack: a 768-byte array there made every
		// scanner goroutine grow its stack (a copy each, with thousands).
		s.buf = make([]cacheEntry, 0, 32)
	}
	entries, ok := c.read(cursor, s.buf[:0])
	defer clear(entries) // keep no message alive from here
	if !ok {
		return cursor, false, nil
	}
	if len(entries) == 0 {
		wake, parked := c.park(s, cursor, wakeAt)
		if !parked {
			return cursor, true, nil // the window changed meanwhile: read again
		}
		idle := time.NewTimer(s.w.o.opts.idleRecheck)
		defer idle.Stop()
		idled := false
		select {
		case <-wake:
		case <-idle.C:
			idled = true
		case <-s.ctx.Done():
		}
		// After unpark, s.last and the cursor are ours again.
		moved := c.unpark(s)
		if idled && moved == cursor {
			// Nothing appended here for a while: look at the backend in
			// case another writer (a higher term) owns the channel now.
			return cursor, false, nil
		}
		return moved, true, nil
	}
	for _, e := range entries {
		cursor++
		if s.last != nil && e.msg.MessageID().LTE(s.last) {
			continue
		}
		s.last = e.msg.MessageID()
		s.fromCache.Add(1)
		if err := s.deliver(e.msg, true); err != nil {
			return cursor, true, nil
		}
	}
	return cursor, true, nil
}

// accept runs the read hooks and filters.
func (s *scanner) accept(msg message.ImmutableMessage) bool {
	for _, h := range s.hooks {
		if !h.Deliver(msg) {
			return false
		}
	}
	for _, f := range s.opt.Filters {
		if !f(msg) {
			return false
		}
	}
	return true
}

// deliver hands msg to the consumer if accept lets it through; it fails
// only when the scanner is stopping.
func (s *scanner) deliver(msg message.ImmutableMessage, fromCache bool) error {
	if !s.accept(msg) {
		return nil
	}
	select {
	case s.ch <- msg:
		s.delivered(msg, fromCache)
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// delivered tells the delivery hooks.
func (s *scanner) delivered(msg message.ImmutableMessage, fromCache bool) {
	if hs := s.w.hooks.delivered; len(hs) > 0 {
		e := DeliverEvent{Scanner: s.opt.Name, Bytes: msg.EstimateSize(), FromCache: fromCache}
		for _, h := range hs {
			h.OnDelivered(s.w.info, e)
		}
	}
}

// reopen replaces the driver scanner after it ended with cause (nil: the
// scanner is leaving the cache). A non-retryable cause ends the scanner;
// otherwise it reopens StartAfter the last message read, with capped
// exponential backoff and jitter while the reopen itself fails retryably.
func (s *scanner) reopen(cause error) error {
	if s.inner != nil {
		_ = s.inner.Close()
		s.inner = nil
	}
	if cause != nil && !walimpls.IsRetryable(cause) {
		if errors.Is(cause, wal.ErrClosed) {
			return cause
		}
		return fmt.Errorf("scanner %q on %s: %w", s.opt.Name, s.w.describe(), cause)
	}
	delay := s.w.o.opts.backoffStart
	for attempt := 1; ; attempt++ {
		if cause != nil {
			s.log.Info("scanner reconnecting", slog.Int("attempt", attempt), slog.Duration("backoff", delay), slog.Any("error", cause))
			if hs := s.w.hooks.scannerReconnected; len(hs) > 0 {
				e := ReconnectEvent{Scanner: s.opt.Name, Attempt: attempt, Backoff: delay, Cause: cause}
				for _, h := range hs {
					h.OnScannerReconnected(s.w.info, e)
				}
			}
			if err := s.sleep(jitter(delay)); err != nil {
				return nil
			}
			delay = min(delay*2, s.w.o.opts.backoffMax)
		}
		opt := s.opt.Impls()
		if s.last != nil {
			opt.DeliverPolicy = walimpls.StartAfter(s.last)
		}
		inner, err := s.w.impl.Read(s.ctx, opt)
		if err == nil {
			s.inner = inner
			return nil
		}
		if s.ctx.Err() != nil {
			return nil
		}
		if !walimpls.IsRetryable(err) {
			return fmt.Errorf("scanner %q on %s: reopen: %w", s.opt.Name, s.w.describe(), err)
		}
		cause = err
	}
}

func (s *scanner) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// jitter picks uniformly in [d/2, d], so reconnecting scanners spread out.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}
