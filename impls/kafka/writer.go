package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqwal/mqwal/walimpls"
)

// Append pipeline. Appenders encode their record and enqueue it; one
// sender per WAL takes everything queued, sends it as one idempotent batch
// (id, epoch = term, next sequence) and hands each appender base offset +
// its index. One batch is in flight at a time, so sequences never leave
// the broker's dedup window, and a batch whose answer was lost is resent
// with identical bytes until the broker answers: it either stores it or
// recognises the duplicate and returns the original offset.
//
// While a batch is being resent, the queue behind it is bounded
// (Config.MaxQueuedAppends, MaxQueuedBytes): appends beyond fail at once
// with ErrUnavailable instead of growing memory through an outage. An
// appender that stops waiting for a queued append takes it out of the
// queue.

type appendReq struct {
	body       []byte
	prev, next *appendReq  // queue links; writer.mu
	queued     bool        // in the queue; writer.mu
	gone       atomic.Bool // the appender stopped waiting after the sender took it
	sent       atomic.Bool // a result was delivered
	done       chan appendResult
}

type appendResult struct {
	offset int64
	err    error
}

type writer struct {
	w        *wal
	topic    string
	maxBatch int
	reverify time.Duration // check ownership from the log after idling this long

	// Sender state, owned by whoever holds the send token.
	ps      producerState
	own     batchInfo     // the newest batch known to be this writer's: its fence or last acked batch
	ownAt   time.Time     // own's timestamp, from which the broker's producer expiry counts
	resync  bool          // check ownership from the log before the next batch
	pending *pendingBatch // a batch given up with an unknown outcome; resync learns whether it was stored

	ownBase atomic.Int64 // own.base, for Truncate

	mu      sync.Mutex
	q       queue
	busy    bool      // someone holds the send token: an appender or the background sender
	stalled bool      // the batch in flight failed an attempt and is being resent
	failed  error     // set once: fenced or closed; later appends fail with it
	carry   *inflight // a batch an appender handed to the background sender

	ctx  context.Context // ends when the writer stops
	stop context.CancelFunc
	bg   sync.WaitGroup // the background sender, while one runs
}

func newWriter(w *wal, cl claimed) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	wr := &writer{
		w:        w,
		topic:    w.topic,
		maxBatch: w.o.maxBatch,
		reverify: w.o.reverify,
		ps:       cl.ps,
		own:      cl.own,
		ownAt:    cl.ownAt,
		ctx:      ctx,
		stop:     cancel,
	}
	wr.ownBase.Store(cl.own.base)
	return wr
}

// append enqueues body and waits for its offset.
func (wr *writer) append(ctx context.Context, body []byte) (int64, error) {
	req := &appendReq{body: body, done: make(chan appendResult, 1)}
	cfg := &wr.w.o.cfg
	wr.mu.Lock()
	if wr.failed != nil {
		err := wr.failed
		wr.mu.Unlock()
		return 0, err
	}
	if wr.stalled && wr.q.n > 0 && (wr.q.n >= cfg.MaxQueuedAppends || wr.q.bytes+len(body) > cfg.MaxQueuedBytes) {
		n, b := wr.q.n, wr.q.bytes
		wr.mu.Unlock()
		return 0, fmt.Errorf("%w: kafka append to %s: %d appends (%d bytes) already wait behind a batch the broker has not answered (Config.MaxQueuedAppends %d, MaxQueuedBytes %d)",
			walimpls.ErrUnavailable, wr.topic, n, b, cfg.MaxQueuedAppends, cfg.MaxQueuedBytes)
	}
	wr.q.push(req)
	lead := !wr.busy
	wr.busy = true
	wr.mu.Unlock()
	if lead {
		// Nobody is sending: send this batch from the appender's own
		// goroutine, which saves two goroutine switches per append when
		// appends do not overlap. The request honours the appender's ctx;
		// if it ends first the batch goes to the background sender, which
		// resends it as it is.
		wr.drive(ctx, false)
	}
	select {
	case r := <-req.done: // sent by this goroutine as the leader
		return r.offset, r.err
	default:
	}
	// The sender answers within WriteTimeout; this is only a backstop for a
	// request stuck beyond its own timeout.
	timer := time.NewTimer(cfg.WriteTimeout + cfg.RequestTimeout + time.Second)
	defer timer.Stop()
	var cause error
	select {
	case r := <-req.done:
		return r.offset, r.err
	case <-ctx.Done():
		cause = ctx.Err()
	case <-timer.C:
		cause = fmt.Errorf("%w: kafka append to %s: no answer within WriteTimeout %v", walimpls.ErrUnavailable, wr.topic, cfg.WriteTimeout)
	}
	wr.mu.Lock()
	if req.queued {
		wr.q.remove(req)
		wr.mu.Unlock()
		return 0, cause // never sent: nothing written
	}
	wr.mu.Unlock()
	req.gone.Store(true)
	select {
	case r := <-req.done:
		return r.offset, r.err
	default:
	}
	return 0, fmt.Errorf("%w: kafka append to %s: %w", walimpls.ErrOutcomeUnknown, wr.topic, cause)
}

// fail makes every later append fail with err and stops the sender.
func (wr *writer) fail(err error) {
	wr.mu.Lock()
	if wr.failed == nil {
		wr.failed = err
	}
	wr.mu.Unlock()
	wr.stop()
}

// close stops the sender and waits for it; queued appends fail with err.
func (wr *writer) close(err error) {
	wr.fail(err)
	wr.bg.Wait()
	wr.drain()
}

func (wr *writer) failedErr() error {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.failed
}

func (wr *writer) setStalled(v bool) {
	wr.mu.Lock()
	wr.stalled = v
	wr.mu.Unlock()
}

// drive sends batches while holding the send token. An appender (bg false)
// sends one batch and hands the token, with any batch that needs retries
// or any later appends, to the background sender, so it never waits for
// other appenders' work.
func (wr *writer) drive(ctx context.Context, bg bool) {
	for {
		wr.mu.Lock()
		fl := wr.carry
		wr.carry = nil
		var reqs []*appendReq
		var bodies [][]byte
		if fl == nil {
			reqs, bodies = wr.take()
		}
		if fl == nil && len(reqs) == 0 {
			wr.busy = false
			wr.mu.Unlock()
			return
		}
		wr.mu.Unlock()
		if fl == nil {
			if wr.ctx.Err() != nil {
				wr.deliverErr(reqs, wr.failedErr())
				continue
			}
			if fl = wr.prepare(reqs, bodies); fl == nil {
				continue
			}
		}
		for !wr.attempt(ctx, fl) {
			if fl.attempts == 1 {
				wr.setStalled(true)
			}
			if !bg {
				wr.handOff(fl)
				return
			}
			// A stop ends the sleep; the next attempt then resolves fl.
			_ = sleepCtx(wr.ctx, backoff(fl.attempts))
		}
		if fl.attempts > 1 {
			wr.setStalled(false)
		}
		if !bg {
			wr.handOff(nil)
			return
		}
	}
}

// handOff passes the send token to a background sender if there is work
// (fl, a batch still unresolved, or queued appends); otherwise it releases
// the token. The background sender is a goroutine that exists only while
// there is such work: an idle writer has none.
func (wr *writer) handOff(fl *inflight) {
	wr.mu.Lock()
	if fl == nil && wr.q.n == 0 {
		wr.busy = false
		wr.mu.Unlock()
		return
	}
	wr.carry = fl
	if wr.failed != nil {
		// Stopping: close may be waiting for the background sender
		// already, so finish here; every attempt fails fast on the
		// cancelled context.
		wr.mu.Unlock()
		wr.drive(wr.ctx, true)
		return
	}
	wr.bg.Add(1) // before close's Wait: fail sets failed under wr.mu first
	wr.mu.Unlock()
	go func() {
		defer wr.bg.Done()
		wr.drive(wr.ctx, true)
	}()
}

// drain fails whatever is still queued once the sender stopped.
func (wr *writer) drain() {
	wr.mu.Lock()
	var q []*appendReq
	for r := wr.q.head; r != nil; r = wr.q.head {
		wr.q.remove(r)
		q = append(q, r)
	}
	err := wr.failed
	fl := wr.carry
	wr.carry = nil
	wr.mu.Unlock()
	if fl != nil {
		wr.deliverErr(fl.reqs, unknownIf(fl.maybeSent, err))
	}
	wr.deliverErr(q, err)
}

// take removes from the queue as many requests as fit in one batch, but
// never fenceRecords of them: that record count is reserved for claims'
// fences (see claim.go). wr.mu is held.
func (wr *writer) take() ([]*appendReq, [][]byte) {
	var reqs []*appendReq
	var bodies [][]byte
	size := batchHeaderSize
	for r := wr.q.head; r != nil; r = wr.q.head {
		add := len(r.body) + recordOverhead + 5
		if len(reqs) > 0 && size+add > wr.maxBatch {
			break
		}
		wr.q.remove(r)
		size += add
		reqs = append(reqs, r)
		bodies = append(bodies, r.body)
	}
	if len(reqs) == fenceRecords {
		wr.q.pushFront(reqs[len(reqs)-1])
		reqs, bodies = reqs[:len(reqs)-1], bodies[:len(bodies)-1]
	}
	return reqs, bodies
}

func (wr *writer) deliverErr(reqs []*appendReq, err error) {
	for _, r := range reqs {
		r.deliver(appendResult{err: err})
	}
}

// deliver hands the appender its result, once: a batch whose outcome was
// reported unknown may still resolve later.
func (r *appendReq) deliver(res appendResult) {
	if r.sent.CompareAndSwap(false, true) {
		r.done <- res
	}
}

// inflight is a batch being sent: its bytes never change, so every
// resend is recognised by the broker as the same batch.
type inflight struct {
	reqs      []*appendReq
	n         int
	batch     []byte
	start     time.Time // also the batch's timestamp
	maybeSent bool      // an attempt may have reached the broker's log
	attempts  int
	told      bool // the appenders were told the outcome is unknown
}

// prepare encodes reqs as the next batch, first checking ownership from
// the log if the last batch ended out of step with the broker.
func (wr *writer) prepare(reqs []*appendReq, bodies [][]byte) *inflight {
	if wr.resync {
		stored, err := verify(wr.ctx, wr.w.o.client, wr.topic, wr.w.Channel(), wr.ps, wr.own, wr.pending)
		if err != nil {
			if errors.Is(err, walimpls.ErrFenced) {
				wr.fail(err)
			}
			wr.deliverErr(reqs, err)
			return nil
		}
		if stored != nil {
			wr.adopt(*stored, wr.pending.at)
		}
		wr.resync, wr.pending = false, nil
	}
	start := time.Now()
	return &inflight{reqs: reqs, n: len(bodies), batch: frameBatch(wr.ps, start.UnixMilli(), bodies), start: start}
}

// adopt records b, stored with timestamp at, as this writer's newest batch.
func (wr *writer) adopt(b batchInfo, at time.Time) {
	wr.own, wr.ownAt = b, at
	wr.ps.sequence = b.next()
	wr.ownBase.Store(b.base)
}

// lose gives fl up: the next batch first checks the log, which also tells
// whether fl was stored if an attempt may have reached the broker.
func (wr *writer) lose(fl *inflight) {
	wr.resync = true
	if fl.maybeSent {
		wr.pending = &pendingBatch{seq: wr.ps.sequence, n: fl.n, at: fl.start}
	}
}

// resolve hands each appender its offset in the batch stored at base.
func (wr *writer) resolve(fl *inflight, base int64) {
	for i, r := range fl.reqs {
		r.deliver(appendResult{offset: base + int64(i)})
	}
	wr.adopt(batchInfo{base: base, last: base + int64(fl.n) - 1, pid: wr.ps.id, epoch: wr.ps.epoch, seq: wr.ps.sequence}, fl.start)
}

// attempt sends fl once and reports whether it is resolved: stored,
// refused, or given up. Unresolved batches are sent again as they are.
func (wr *writer) attempt(ctx context.Context, fl *inflight) bool {
	fl.attempts++
	switch {
	case ctx.Done() == nil:
		// The appender cannot cancel; the writer's stop still must.
		ctx = wr.ctx
	case ctx != wr.ctx:
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(wr.ctx, cancel)()
	}
	// A broker forgets a producer producer.id.expiration.ms after the
	// timestamp of its last batch, and with it the higher epoch that fenced
	// this writer. Past half that, check the log before sending. A busy
	// writer only compares two times it already has.
	idle := fl.start.Sub(wr.ownAt)
	if fl.attempts > 1 {
		idle = time.Since(wr.ownAt)
	}
	if idle >= wr.reverify {
		done, err := wr.reverifyOwner(ctx, fl)
		switch {
		case done:
			return true
		case err != nil && wr.ctx.Err() != nil:
			wr.stopping(fl, false)
			return true
		case err != nil:
			// Not sent: the check could not read the log.
			wr.w.o.client.invalidate(wr.topic)
			return wr.retryLater(fl, err)
		}
	}
	base, err := wr.w.o.client.produce(ctx, wr.topic, fl.batch)
	if err != nil {
		return wr.failedAttempt(fl, err)
	}
	if base <= wr.own.last {
		// The broker matched the batch to an older one that is not this
		// writer's: another writer produced with its epoch and sequence.
		ferr := fmt.Errorf("%w: kafka channel %q term %d: the broker answered with offset %d, not after this writer's last batch at %d: another writer of this term took the channel",
			walimpls.ErrFenced, wr.w.Channel().Name, wr.w.Channel().Term, base, wr.own.last)
		wr.fail(ferr)
		wr.deliverErr(fl.reqs, unknownIf(fl.maybeSent, ferr))
		return true
	}
	wr.resolve(fl, base)
	return true
}
