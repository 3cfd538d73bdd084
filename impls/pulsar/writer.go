package pulsar

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// producerName is fixed so that the broker's deduplication state (the last
// sequence id per producer name) carries over reconnects and new writers.
const producerName = "mqwal-writer"

// writer appends to one topic through an exclusive producer. Submission is
// serialized (mu) so sequence ids reach the wire in order; receipts are
// placed by one resolver goroutine in receipt order.
//
// Placement: the client returns the id of the copy the broker acknowledged
// last. Without broker deduplication a lost receipt makes the client resend,
// so the topic can hold earlier copies; scanners deliver the first copy of
// each sequence number, so Append must return that one too. With
// deduplication the broker answers a resend with -1:-1; Append then returns
// the id of the stored copy. The resolver knows every position up to cursor;
// a receipt right after cursor (same ledger, next entry) is certain, any
// other receipt is checked by reading the topic from cursor.
type writer struct {
	o        *opener
	topic    string
	channel  string
	term     int64
	termText string
	slots    chan struct{} // in-flight bound
	// lock serializes changes of the state below (producer, closed,
	// fenced) and is ctx-aware, since acquiring a producer takes up to the
	// operation timeout; mu guards the state itself, nextSeq and the
	// submission order. Changes hold both; submitFast holds mu only.
	lock chan struct{}
	mu   sync.Mutex

	ctx    context.Context // ends resolution reads on close
	cancel context.CancelFunc

	closed     bool
	fenced     error // a higher term wrote the channel: every Append fails
	prod       pc.Producer
	nextSeq    int64
	subscribed bool // the truncation subscription exists (changed under lock)

	inflight sync.WaitGroup
	broken   atomic.Bool // an outcome was unknown: recreate the producer and recover

	// resMu guards queue and resolving. While queue is empty the client's
	// callback places a receipt itself when that needs no read (the common
	// case, saving a goroutine hand-off); otherwise the receipt and every
	// later one go to the queue, in order, which a resolver goroutine works
	// off and ends with (an idle writer has none). The placement state
	// below is touched by the callback only under resMu with an empty
	// queue, and by the resolver only while the queue is not empty; acquire
	// resets it while nothing is in flight.
	resMu     sync.Mutex
	queue     []receipt
	resolving chan struct{} // closed when the running resolver ends; nil if none runs
	cursor    ID
	hasCursor bool
	first     map[int64]ID // first stored copy of this term's sequence numbers not yet placed
	// higher is set once a message of a higher term was read after the
	// cursor: a copy of this writer's stored after it is a zombie's, which
	// scanners drop, so it is never acknowledged.
	higher bool
}

type result struct {
	id  ID
	err error
}

func newWriter(o *opener, topic, channel string, term int64) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{
		o: o, topic: topic, channel: channel, term: term, termText: strconv.FormatInt(term, 10),
		slots:  make(chan struct{}, o.cfg.maxInFlight),
		lock:   make(chan struct{}, 1),
		ctx:    ctx,
		cancel: cancel,
		first:  map[int64]ID{},
	}
	o.watch(w)
	return w
}

// append sends p, which fill prepared, and waits for its position.
func (w *writer) append(ctx context.Context, p *pending) (message.MessageID, error) {
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		w.recycle(p)
		return nil, ctx.Err()
	}
	if !w.submitFast(p) {
		if err := w.submitSlow(ctx, p); err != nil {
			<-w.slots
			w.recycle(p)
			return nil, err
		}
	}
	select {
	case r := <-p.done:
		w.recycle(p)
		if r.err != nil {
			return nil, r.err
		}
		return r.id, nil
	case <-ctx.Done():
		// p stays with the client until its receipt: not recycled.
		return nil, fmt.Errorf("%w: pulsar: append to %s: %w", walimpls.ErrOutcomeUnknown, w.topic, ctx.Err())
	}
}

// submitFast sends through a healthy producer under mu alone, or reports
// false. mu is held only for the send itself, so under load a running
// appender takes it next instead of waiting for the hand-off to a parked
// goroutine that a channel lock makes.
func (w *writer) submitFast(p *pending) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.fenced != nil || w.prod == nil || w.broken.Load() {
		return false
	}
	w.sendLocked(p)
	return true
}

// submitSlow takes the state lock (ctx-aware: acquire can take up to the
// operation timeout), recreates the producer if needed, and sends.
func (w *writer) submitSlow(ctx context.Context, p *pending) error {
	select {
	case w.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-w.lock }()
	// closed, fenced and prod change only under lock: stable from here.
	if w.closed {
		return fmt.Errorf("%w: append to pulsar channel %q", walimpls.ErrClosed, w.channel)
	}
	if w.fenced != nil {
		return w.fenced
	}
	if w.prod == nil || w.broken.Load() {
		if err := w.acquire(ctx); err != nil {
			if errors.Is(err, walimpls.ErrFenced) {
				w.setFenced(err)
			}
			return err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sendLocked(p)
	return nil
}

// sendLocked numbers the message and hands it to the client. Called with
// mu held, which keeps numbering and submission in one order.
func (w *writer) sendLocked(p *pending) {
	p.seq = w.nextSeq
	w.nextSeq++
	p.msg.Properties[SeqProperty] = strconv.FormatInt(p.seq, 10)
	p.wire = wireSeq(w.term, p.seq)
	p.msg.SequenceID = &p.wire
	w.inflight.Add(1)
	// Background, not ctx: the client skips writing a pending message whose
	// ctx has ended but keeps it queued, which stalls every later receipt.
	p.submitting.Store(true)
	w.prod.SendAsync(context.Background(), &p.msg, p.callback)
	p.submitting.Store(false)
	if p.rejected.Load() {
		w.nextSeq-- // nothing was sent, and nothing else took a number meanwhile
	}
}

// producerOptions are a writer's producer's.
func producerOptions(topic string, maxInFlight int) pc.ProducerOptions {
	return pc.ProducerOptions{
		Topic:              topic,
		Name:               producerName,
		ProducerAccessMode: pc.ProducerAccessModeExclusive,
		DisableBatching:    true,
		SendTimeout:        -1, // a timed-out message is dropped while later ones go out: a gap
		MaxPendingMessages: maxInFlight,
		// The topic is not partitioned (Open checks), so the producer's
		// partition lookup every minute is traffic for nothing; the client
		// cannot turn it off.
		PartitionsAutoDiscoveryInterval: partitionDiscoveryInterval,
		BackOffPolicyFunc:               newReconnectBackoff,
	}
}

// partitionDiscoveryInterval is how often the client looks for new
// partitions of a producer's or consumer's topic: rarely, the driver's
// topics are not partitioned.
const partitionDiscoveryInterval = 24 * time.Hour

// setProducer and setFenced change what submitFast reads; the caller holds
// lock.
func (w *writer) setProducer(p pc.Producer) (old pc.Producer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	old, w.prod = w.prod, p
	return old
}

func (w *writer) setFenced(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fenced = err
}

// acquire (re)creates the producer and recovers the next sequence number
// and the resolver's cursor from the topic. Called with lock held.
func (w *writer) acquire(ctx context.Context) error {
	if old := w.setProducer(nil); old != nil {
		// Closing fails the pending sends, so nothing of the old producer is
		// written after this point and every receipt arrives.
		old.Close()
		w.waitInflight()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// trunc is the truncation subscription's consumer while acquire holds
	// it: once the producer is held it also tells the topic's last position,
	// which saves a reader.
	var trunc pc.Consumer
	defer func() {
		if trunc != nil {
			trunc.Close()
		}
	}()
	if !w.subscribed {
		// Before anything is sent: the broker keeps only what a durable
		// subscription has not acknowledged.
		c, err := subscribeTruncation(w.o, w.topic)
		switch {
		case err == nil:
			trunc = c
		case strings.Contains(err.Error(), "ConsumerBusy"):
			// A Truncate holds it: it exists.
		default:
			return classify("create the truncation subscription of", w.topic, err)
		}
		// The topic exists now, so its effective policies can be read; a
		// refused channel gets no producer and no claim.
		if err := w.o.checkPolicies(ctx, w.channel, w.topic); err != nil {
			return err
		}
		w.subscribed = true
	}
	prod, err := w.o.client.CreateProducer(producerOptions(w.topic, w.o.cfg.maxInFlight))
	if err != nil {
		err = classifyCreate(w.topic, err)
		if isBusy(err) {
			// Another writer holds the topic. If a higher term has written,
			// this writer is stale for good.
			if tail, terr := recoverTail(ctx, w.o, w.topic); terr == nil && tail.maxTerm > w.term {
				return w.fencedBy(tail.maxTerm, err)
			}
		}
		return err
	}
	var tail tail
	if trunc != nil {
		// Read while the producer is held: nothing can be stored after it
		// but this writer's messages.
		var ids []pc.TopicMessageID
		if ids, err = trunc.GetLastMessageIDs(); err == nil && len(ids) != 1 {
			err = fmt.Errorf("%d last message ids for one topic", len(ids))
		}
		trunc.Close()
		trunc = nil
		if err == nil {
			last := idOf(ids[0])
			tail, err = recoverTailFrom(ctx, w.o, w.topic, last, last.valid())
		}
	} else {
		tail, err = recoverTail(ctx, w.o, w.topic)
	}
	if err != nil {
		prod.Close()
		return classify("recover the last sequence number of", w.topic, err)
	}
	if tail.maxTerm > w.term {
		prod.Close()
		return w.fencedBy(tail.maxTerm, nil)
	}
	last, nonEmpty, maxSeq := tail.last, tail.nonEmpty, tail.maxSeq
	if maxSeq+1 >= 1<<seqBits {
		prod.Close()
		return fmt.Errorf("%w: pulsar channel %q has used all %d sequence numbers", walimpls.ErrInvalidArgument, w.channel, int64(1)<<seqBits)
	}
	if !nonEmpty && last.Ledger >= 0 && last.Entry == -1 {
		// An empty topic reports (current ledger, -1): the first receipt
		// at entry 0 of that ledger follows it, so the claim is placed
		// without reading the topic.
		nonEmpty = true
	}
	w.resMu.Lock()
	w.cursor, w.hasCursor = last, nonEmpty
	w.higher = false
	clear(w.first)
	w.queue = nil
	w.resMu.Unlock()
	w.mu.Lock()
	// Never reuse a number this writer handed out: a message with it may
	// be stored (an unknown outcome). A skipped number is a gap readers
	// confirm and pass.
	w.nextSeq = max(w.nextSeq, maxSeq+1)
	w.prod = prod
	w.broken.Store(false)
	w.mu.Unlock()
	if tail.maxTerm < w.term {
		return w.claim(ctx)
	}
	return nil
}

// claim stores the first message of this term (empty, ClaimProperty), and
// waits for it: once Open returns, the topic says that this term took the
// channel. Without it a lower term could take the producer while this
// writer, not having appended yet, is disconnected, find no higher term in
// the tail and write after this term's Open.
func (w *writer) claim(ctx context.Context) error {
	p := w.getPending()
	p.claim = true
	p.msg.Properties[TermProperty] = w.termText
	p.msg.Properties[ClaimProperty] = w.termText
	w.mu.Lock()
	w.sendLocked(p)
	w.mu.Unlock()
	select {
	case r := <-p.done:
		w.recycle(p)
		if r.err != nil {
			return fmt.Errorf("pulsar channel %q: store the claim of term %d: %w", w.channel, w.term, r.err)
		}
		return nil
	case <-ctx.Done():
		w.broken.Store(true) // p stays with the client; the next Append starts over
		return fmt.Errorf("%w: pulsar channel %q: store the claim of term %d: %w", walimpls.ErrUnavailable, w.channel, w.term, ctx.Err())
	}
}

func (w *writer) fencedBy(term int64, cause error) error {
	err := fmt.Errorf("%w: pulsar channel %q: term %d has written, this writer has term %d", walimpls.ErrFenced, w.channel, term, w.term)
	if cause != nil {
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	return err
}

func (w *writer) waitInflight() {
	done := make(chan struct{})
	go func() { w.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.o.cfg.operationTimeout):
	}
}

// close flushes what is in flight, releases the producer and ends the
// resolver. Bounded by the operation timeout even with the broker gone.
func (w *writer) close() {
	w.lock <- struct{}{}
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	prod := w.setProducer(nil)
	<-w.lock
	if prod != nil {
		ctx, cancel := context.WithTimeout(context.Background(), w.o.cfg.operationTimeout/2)
		_ = prod.FlushWithCtx(ctx)
		cancel()
		prod.Close()
	}
	w.waitInflight()
	w.cancel()
	w.resMu.Lock()
	resolving := w.resolving
	w.resMu.Unlock()
	if resolving != nil {
		<-resolving // fails fast: its reads end with ctx
	}
	w.o.unwatch(w)
}
