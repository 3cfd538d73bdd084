package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// Append pipeline. Appenders encode their record and enqueue it; one
// sender per WAL takes everything queued, sends it as one idempotent batch
// (id, epoch = term, next sequence) and hands each appender base offset +
// its index. One batch is in flight at a time, so sequences never leave
// the broker's dedup window, and a batch whose answer was lost is resent
// with identical bytes until the broker answers: it either stores it or
// recognises the duplicate and returns the original offset.

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

type appendReq struct {
	body  []byte
	state atomic.Int32
	gone  atomic.Bool // the appender stopped waiting after the sender took it
	sent  atomic.Bool // a result was delivered
	done  chan appendResult
}

type appendResult struct {
	offset int64
	err    error
}

type writer struct {
	w        *wal
	ps       producerState // sender goroutine only
	resync   bool          // sender goroutine only: sequence state must be re-read
	maxBatch int

	mu     sync.Mutex
	queue  []*appendReq
	busy   bool      // someone holds the send token: an appender or the background sender
	failed error     // set once: fenced or closed; later appends fail with it
	carry  *inflight // a batch an appender handed to the background sender

	wake    chan struct{}
	ctx     context.Context // ends when the writer stops
	stop    context.CancelFunc
	stopped chan struct{}
}

func newWriter(w *wal, ps producerState) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	wr := &writer{
		w:        w,
		ps:       ps,
		maxBatch: w.o.maxBatch,
		wake:     make(chan struct{}, 1),
		ctx:      ctx,
		stop:     cancel,
		stopped:  make(chan struct{}),
	}
	go wr.run()
	return wr
}

// append enqueues body and waits for its offset.
func (wr *writer) append(ctx context.Context, body []byte) (int64, error) {
	req := &appendReq{body: body, done: make(chan appendResult, 1)}
	wr.mu.Lock()
	if wr.failed != nil {
		err := wr.failed
		wr.mu.Unlock()
		return 0, err
	}
	wr.queue = append(wr.queue, req)
	lead := !wr.busy
	wr.busy = wr.busy || lead
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
	timer := time.NewTimer(wr.w.o.cfg.WriteTimeout + wr.w.o.cfg.RequestTimeout + time.Second)
	defer timer.Stop()
	var cause error
	select {
	case r := <-req.done:
		return r.offset, r.err
	case <-ctx.Done():
		cause = ctx.Err()
	case <-timer.C:
		cause = fmt.Errorf("%w: kafka append to %s: no answer within WriteTimeout %v", walimpls.ErrUnavailable, wr.w.topic, wr.w.o.cfg.WriteTimeout)
	}
	if req.state.CompareAndSwap(reqQueued, reqAbandoned) {
		return 0, cause // never sent: nothing written
	}
	req.gone.Store(true)
	select {
	case r := <-req.done:
		return r.offset, r.err
	default:
	}
	return 0, fmt.Errorf("%w: kafka append to %s: %w", walimpls.ErrOutcomeUnknown, wr.w.topic, cause)
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
	<-wr.stopped
}

func (wr *writer) failedErr() error {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.failed
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
			if !bg {
				wr.handOff(fl)
				return
			}
			// A stop ends the sleep; the next attempt then resolves fl.
			_ = sleepCtx(wr.ctx, backoff(fl.attempts))
		}
		if !bg {
			wr.handOff(nil)
			return
		}
	}
}

// handOff passes the send token to the background sender if there is
// work (fl, a batch still unresolved, or queued appends); otherwise it
// releases the token.
func (wr *writer) handOff(fl *inflight) {
	wr.mu.Lock()
	if fl == nil && len(wr.queue) == 0 {
		wr.busy = false
		wr.mu.Unlock()
		return
	}
	wr.carry = fl
	wr.mu.Unlock()
	if wr.ctx.Err() != nil {
		// Stopping: the background sender may have drained already, so
		// finish here; every attempt fails fast on the cancelled context.
		wr.drive(wr.ctx, true)
		return
	}
	select {
	case wr.wake <- struct{}{}:
	case <-wr.stopped:
		// The background sender is gone: finish here, every attempt
		// now fails fast on the cancelled context.
		wr.drive(wr.ctx, true)
	}
}

func (wr *writer) run() {
	defer close(wr.stopped)
	defer wr.drain()
	for {
		select {
		case <-wr.ctx.Done():
			return
		case <-wr.wake:
		}
		wr.drive(wr.ctx, true)
	}
}

// drain fails whatever is still queued once the sender stops.
func (wr *writer) drain() {
	wr.mu.Lock()
	q := wr.queue
	wr.queue = nil
	err := wr.failed
	fl := wr.carry
	wr.carry = nil
	wr.mu.Unlock()
	if fl != nil {
		wr.deliverErr(fl.reqs, wr.unknownIf(fl.maybeSent, err))
	}
	for _, r := range q {
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			r.deliver(appendResult{err: err})
		}
	}
}

// take removes from the queue as many live requests as fit in one batch.
// wr.mu is held.
func (wr *writer) take() ([]*appendReq, [][]byte) {
	var reqs []*appendReq
	var bodies [][]byte
	size := batchHeaderSize
	i := 0
	for ; i < len(wr.queue); i++ {
		r := wr.queue[i]
		if r.state.Load() != reqQueued {
			continue
		}
		add := len(r.body) + recordOverhead + 5
		if len(reqs) > 0 && size+add > wr.maxBatch {
			break
		}
		if !r.state.CompareAndSwap(reqQueued, reqTaken) {
			continue
		}
		size += add
		reqs = append(reqs, r)
		bodies = append(bodies, r.body)
	}
	n := copy(wr.queue, wr.queue[i:])
	clear(wr.queue[n:])
	wr.queue = wr.queue[:n]
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
	start     time.Time
	maybeSent bool // an attempt may have reached the broker
	attempts  int
	told      bool // the appenders were told the outcome is unknown
}

// prepare encodes reqs as the next batch, first re-reading the sequence
// state if the broker refused the last one as out of step.
func (wr *writer) prepare(reqs []*appendReq, bodies [][]byte) *inflight {
	if wr.resync {
		ps, err := recoverState(wr.ctx, wr.w.o.client, wr.w.topic, wr.w.Channel(), wr.ps.id)
		if err != nil {
			if errors.Is(err, walimpls.ErrFenced) {
				wr.fail(err)
			}
			wr.deliverErr(reqs, err)
			return nil
		}
		wr.ps, wr.resync = ps, false
	}
	start := time.Now()
	return &inflight{reqs: reqs, n: len(bodies), batch: frameBatch(wr.ps, start.UnixMilli(), bodies), start: start}
}

// attempt sends fl once and reports whether it is resolved: stored,
// refused, or given up. Unresolved batches are sent again as they are.
func (wr *writer) attempt(ctx context.Context, fl *inflight) bool {
	topic := wr.w.topic
	reqs := fl.reqs
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
	resp, err := wr.w.o.client.produce(ctx, topic, fl.batch)
	if err == nil && resp.Error != nil {
		err = resp.Error
	}
	if err == nil {
		for i, r := range reqs {
			r.deliver(appendResult{offset: resp.BaseOffset + int64(i)})
		}
		wr.ps.sequence = nextSequence(wr.ps.sequence, fl.n)
		return true
	}
	switch {
	case errors.Is(err, kafkago.InvalidProducerEpoch) || errors.Is(err, kafkago.ProducerFenced):
		ferr := fmt.Errorf("%w: kafka channel %q term %d: a higher term wrote to %s: %w", walimpls.ErrFenced, wr.w.Channel().Name, wr.w.Channel().Term, topic, err)
		wr.fail(ferr)
		wr.deliverErr(reqs, wr.unknownIf(fl.maybeSent, ferr))
		return true
	case errors.Is(err, kafkago.OutOfOrderSequenceNumber) || errors.Is(err, kafkago.UnknownProducerId) || errors.Is(err, kafkago.DuplicateSequenceNumber):
		// Refused: nothing of this batch was stored (a stored earlier
		// attempt would have been answered as a duplicate). Re-read the
		// sequence state from the log before the next batch.
		wr.resync = true
		wr.deliverErr(reqs, fmt.Errorf("%w: kafka produce to %s: producer state out of step, resyncing: %w", walimpls.ErrUnavailable, topic, err))
		return true
	case errors.Is(err, kafkago.MessageSizeTooLarge) || errors.Is(err, kafkago.RecordListTooLarge):
		wr.deliverErr(reqs, wr.unknownIf(fl.maybeSent, fmt.Errorf("%w: kafka produce to %s: %w", walimpls.ErrMessageTooLarge, topic, err)))
		return true
	case wr.ctx.Err() != nil:
		// The stop may have cut a request already on the wire.
		fl.maybeSent = fl.maybeSent || !isDialError(err)
		err = wr.failedErr()
		if fl.maybeSent {
			err = fmt.Errorf("%w: kafka produce to %s: writer closed while the batch was unanswered: %w", walimpls.ErrOutcomeUnknown, topic, err)
		}
		wr.deliverErr(reqs, err)
		return true
	case isStaleMetadata(err) || errors.Is(err, kafkago.NotEnoughReplicas) || isDialError(err):
		wr.w.o.client.forceRefresh()
	case errors.Is(err, kafkago.InvalidMessage) || errors.Is(err, kafkago.InvalidRecord) || errors.Is(err, kafkago.TopicAuthorizationFailed) ||
		errors.Is(err, kafkago.ClusterAuthorizationFailed) || errors.Is(err, kafkago.InvalidRequiredAcks):
		if fl.maybeSent {
			wr.resync = true
		}
		wr.deliverErr(reqs, wr.unknownIf(fl.maybeSent, fmt.Errorf("kafka produce to %s: %w", topic, err)))
		return true
	default:
		// Timeouts, dropped connections, REQUEST_TIMED_OUT: the batch may
		// be stored. Resend the same bytes.
		fl.maybeSent = true
	}
	late := time.Since(fl.start) > wr.w.o.cfg.WriteTimeout
	switch {
	case !fl.maybeSent && (late || allGone(reqs)):
		// Nothing can have been stored: give up, the sequence is unused.
		wr.deliverErr(reqs, fmt.Errorf("%w: kafka produce to %s: %w", walimpls.ErrUnavailable, topic, err))
		return true
	case late && !fl.told:
		// Tell the appenders, but keep resending until the broker
		// answers: the next batch's sequence depends on this one.
		fl.told = true
		wr.deliverErr(reqs, fmt.Errorf("%w: kafka produce to %s: no answer within WriteTimeout %v: %w", walimpls.ErrOutcomeUnknown, topic, wr.w.o.cfg.WriteTimeout, err))
	}
	return false
}

func (wr *writer) unknownIf(maybeSent bool, err error) error {
	if maybeSent {
		return fmt.Errorf("%w: %w", walimpls.ErrOutcomeUnknown, err)
	}
	return err
}

func allGone(reqs []*appendReq) bool {
	for _, r := range reqs {
		if !r.gone.Load() {
			return false
		}
	}
	return true
}

// isDialError reports a failure to connect: the request never left.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// recoverState reads the channel producer's last batch from the log and
// returns the state a writer of ch's term continues with.
func recoverState(ctx context.Context, c *client, topic string, ch walimpls.Channel, pid int64) (producerState, error) {
	first, end, err := c.offsets(ctx, topic)
	if err != nil {
		return producerState{}, fmt.Errorf("%w: %w", walimpls.ErrUnavailable, err)
	}
	found, epoch, next, err := c.lastBatchOf(ctx, topic, pid, first, end)
	if err != nil {
		return producerState{}, fmt.Errorf("%w: %w", walimpls.ErrUnavailable, err)
	}
	ps := producerState{id: pid, epoch: int16(ch.Term)}
	if found {
		switch {
		case int64(epoch) > ch.Term:
			return producerState{}, fmt.Errorf("%w: kafka channel %q: term %d already wrote to %s, this WAL has term %d", walimpls.ErrFenced, ch.Name, epoch, topic, ch.Term)
		case int64(epoch) == ch.Term:
			ps.sequence = next
		}
	}
	return ps, nil
}

// claim recovers the producer state and writes the fence record of ch's
// term; from then on the broker refuses lower epochs.
func claim(ctx context.Context, c *client, topic string, ch walimpls.Channel) (producerState, error) {
	pid := producerID(topic)
	for attempt := 0; ; attempt++ {
		ps, err := recoverState(ctx, c, topic, ch, pid)
		if err != nil {
			return ps, err
		}
		_, end, err := c.offsets(ctx, topic)
		if err != nil {
			return ps, fmt.Errorf("%w: %w", walimpls.ErrUnavailable, err)
		}
		body := encodeRecordBody(nil, nil, message.Properties{fenceHeader: termString(ch.Term)})
		batch := frameBatch(ps, time.Now().UnixMilli(), [][]byte{body})
		for try := 0; ; try++ {
			resp, err := c.produce(ctx, topic, batch)
			if err == nil && resp.Error != nil {
				err = resp.Error
			}
			switch {
			case err == nil && resp.BaseOffset >= end:
				ps.sequence = nextSequence(ps.sequence, 1)
				return ps, nil
			case err == nil:
				// Answered as a duplicate of an older batch: the log's tail
				// did not show the broker's real sequence.
				return ps, fmt.Errorf("%w: kafka channel %q term %d: the broker's producer state is ahead of the log (another writer with this term?); open with a higher term", walimpls.ErrFenced, ch.Name, ch.Term)
			case errors.Is(err, kafkago.InvalidProducerEpoch) || errors.Is(err, kafkago.ProducerFenced):
				return ps, fmt.Errorf("%w: kafka channel %q: a term above %d owns %s: %w", walimpls.ErrFenced, ch.Name, ch.Term, topic, err)
			case errors.Is(err, kafkago.OutOfOrderSequenceNumber):
				if attempt < 2 {
					break // a racing same-term writer may have moved on; look again
				}
				return ps, fmt.Errorf("%w: kafka channel %q term %d: the broker's producer sequence does not match the log; open with a higher term: %w", walimpls.ErrFenced, ch.Name, ch.Term, err)
			case ctx.Err() != nil:
				return ps, fmt.Errorf("%w: kafka channel %q: claiming term %d: %w", walimpls.ErrUnavailable, ch.Name, ch.Term, ctx.Err())
			case errors.Is(err, kafkago.InvalidMessage) || errors.Is(err, kafkago.InvalidRecord) || errors.Is(err, kafkago.TopicAuthorizationFailed) || errors.Is(err, kafkago.ClusterAuthorizationFailed):
				return ps, fmt.Errorf("kafka channel %q: claiming term %d: %w", ch.Name, ch.Term, err)
			case isStaleMetadata(err) || isDialError(err) || errors.Is(err, kafkago.UnknownProducerId):
				c.forceRefresh()
				if try > 20 {
					return ps, fmt.Errorf("%w: kafka channel %q: claiming term %d: %w", walimpls.ErrUnavailable, ch.Name, ch.Term, err)
				}
				if err := sleepCtx(ctx, backoff(try)); err != nil {
					return ps, fmt.Errorf("%w: %w", walimpls.ErrUnavailable, err)
				}
				continue
			default:
				// Maybe stored: identical bytes are safe to resend.
				if try > 20 {
					return ps, fmt.Errorf("%w: kafka channel %q: claiming term %d: %w", walimpls.ErrUnavailable, ch.Name, ch.Term, err)
				}
				if err := sleepCtx(ctx, backoff(try)); err != nil {
					return ps, fmt.Errorf("%w: %w", walimpls.ErrUnavailable, err)
				}
				continue
			}
			break
		}
	}
}
