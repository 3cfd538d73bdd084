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
// serialized (lock) so sequence ids reach the wire in order; receipts are
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
	lock     chan struct{} // submission lock, ctx-aware

	ctx    context.Context // ends resolution reads on close
	cancel context.CancelFunc

	// Guarded by lock.
	closed  bool
	fenced  error // a higher term wrote the channel: every Append fails
	prod    pc.Producer
	nextSeq int64

	inflight sync.WaitGroup
	bg       sync.WaitGroup // the fence watcher
	watching sync.Once
	broken   atomic.Bool   // an outcome was unknown: recreate the producer and recover
	wake     chan struct{} // the resolver has work
	done     chan struct{} // resolver ended

	// resMu guards queue. While queue is empty the client's callback places
	// a receipt itself when that needs no read (the common case, saving a
	// goroutine hand-off); otherwise the receipt and every later one go to
	// the resolver, in order. The placement state below is touched by the
	// callback only under resMu with an empty queue, and by the resolver
	// only while the queue is not empty; acquire resets it while nothing is
	// in flight.
	resMu     sync.Mutex
	queue     []receipt
	cursor    ID
	hasCursor bool
	first     map[int64]ID // first stored copy of sequence numbers not yet placed
}

type pending struct {
	seq  int64
	done chan result
	// submitting is true while SendAsync runs; a callback during it is the
	// client refusing the message before sending (rejected), so its
	// sequence number is given back.
	submitting atomic.Bool
	rejected   atomic.Bool
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
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		first:  map[int64]ID{},
	}
	go w.resolve()
	return w
}

func (w *writer) append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	// Built before taking the lock, which serializes submission.
	props := make(map[string]string, len(msg.Properties())+2)
	for k, v := range msg.Properties() {
		props[k] = v
	}
	props[TermProperty] = w.termText
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case w.lock <- struct{}{}:
	case <-ctx.Done():
		<-w.slots
		return nil, ctx.Err()
	}
	if w.closed {
		<-w.lock
		<-w.slots
		return nil, fmt.Errorf("%w: append to pulsar channel %q", walimpls.ErrClosed, w.channel)
	}
	if w.fenced != nil {
		<-w.lock
		<-w.slots
		return nil, w.fenced
	}
	if w.prod == nil || w.broken.Load() {
		if err := w.acquire(ctx); err != nil {
			if errors.Is(err, walimpls.ErrFenced) {
				w.fenced = err
			}
			<-w.lock
			<-w.slots
			return nil, err
		}
	}
	p := &pending{seq: w.nextSeq, done: make(chan result, 1)}
	w.nextSeq++
	props[SeqProperty] = strconv.FormatInt(p.seq, 10)
	seq := p.seq
	w.inflight.Add(1)
	// Background, not ctx: the client skips writing a pending message whose
	// ctx has ended but keeps it queued, which stalls every later receipt.
	p.submitting.Store(true)
	w.prod.SendAsync(context.Background(), &pc.ProducerMessage{Payload: msg.Payload(), Properties: props, SequenceID: &seq},
		func(id pc.MessageID, _ *pc.ProducerMessage, err error) { w.receipt(receipt{p: p, id: id, err: err}) })
	p.submitting.Store(false)
	if p.rejected.Load() {
		w.nextSeq-- // nothing was sent, and nothing else took a number meanwhile
	}
	<-w.lock
	select {
	case r := <-p.done:
		if r.err != nil {
			return nil, r.err
		}
		return r.id, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: pulsar: append to %s: %w", walimpls.ErrOutcomeUnknown, w.topic, ctx.Err())
	}
}

// acquire (re)creates the producer and recovers the next sequence number
// and the resolver's cursor from the topic. Called with lock held.
func (w *writer) acquire(ctx context.Context) error {
	if w.prod != nil {
		// Closing fails the pending sends, so nothing of the old producer is
		// written after this point and every receipt arrives.
		w.prod.Close()
		w.prod = nil
		w.waitInflight()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	prod, err := w.o.client.CreateProducer(pc.ProducerOptions{
		Topic:              w.topic,
		Name:               producerName,
		ProducerAccessMode: pc.ProducerAccessModeExclusive,
		DisableBatching:    true,
		SendTimeout:        -1, // a timed-out message is dropped while later ones go out: a gap
		MaxPendingMessages: w.o.cfg.maxInFlight,
	})
	if err != nil {
		err = classify("create producer for", w.topic, err)
		if errors.Is(err, walimpls.ErrUnavailable) && strings.Contains(err.Error(), "ProducerBusy") {
			// Another writer holds the topic. If a higher term has written,
			// this writer is stale for good.
			if tail, terr := recoverTail(ctx, w.o, w.topic); terr == nil && tail.maxTerm > w.term {
				return w.fencedBy(tail.maxTerm, err)
			}
		}
		return err
	}
	tail, err := recoverTail(ctx, w.o, w.topic)
	if err != nil {
		prod.Close()
		return classify("recover the last sequence number of", w.topic, err)
	}
	if tail.maxTerm > w.term {
		prod.Close()
		return w.fencedBy(tail.maxTerm, nil)
	}
	last, nonEmpty, maxSeq := tail.last, tail.nonEmpty, tail.maxSeq
	w.prod = prod
	w.resMu.Lock()
	w.cursor, w.hasCursor = last, nonEmpty
	clear(w.first)
	w.queue = nil
	w.resMu.Unlock()
	// Never reuse a number this writer handed out: a message with it may
	// be stored (an unknown outcome). A skipped number is a gap readers
	// confirm and pass.
	w.nextSeq = max(w.nextSeq, maxSeq+1)
	w.broken.Store(false)
	w.watching.Do(func() {
		w.bg.Add(1)
		go w.watch()
	})
	return nil
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
	w.closed = true
	prod := w.prod
	w.prod = nil
	<-w.lock
	if prod != nil {
		ctx, cancel := context.WithTimeout(context.Background(), w.o.cfg.operationTimeout/2)
		_ = prod.FlushWithCtx(ctx)
		cancel()
		prod.Close()
	}
	w.waitInflight()
	w.cancel()
	<-w.done
	w.bg.Wait()
}
