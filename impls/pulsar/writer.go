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

// recoverWindow is how many entries before the last one a new writer reads
// to find the highest sequence number: a resend interrupted by a crash can
// leave a copy of an older message last.
const recoverWindow = 64

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
}

type result struct {
	id  ID
	err error
}

type receipt struct {
	p   *pending
	id  pc.MessageID
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
	props := make(map[string]string, len(msg.Properties())+1)
	for k, v := range msg.Properties() {
		props[k] = v
	}
	props[SeqProperty] = strconv.FormatInt(p.seq, 10)
	props[TermProperty] = w.termText
	seq := p.seq
	w.inflight.Add(1)
	// Background, not ctx: the client skips writing a pending message whose
	// ctx has ended but keeps it queued, which stalls every later receipt.
	w.prod.SendAsync(context.Background(), &pc.ProducerMessage{Payload: msg.Payload(), Properties: props, SequenceID: &seq},
		func(id pc.MessageID, _ *pc.ProducerMessage, err error) { w.receipt(receipt{p: p, id: id, err: err}) })
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

// receipt is the client's send callback.
func (w *writer) receipt(r receipt) {
	w.resMu.Lock()
	if len(w.queue) == 0 && r.err == nil {
		if res, ok := w.placeFast(r.p.seq, idOf(r.id)); ok {
			w.resMu.Unlock()
			w.finish(r, res)
			return
		}
	}
	w.queue = append(w.queue, r)
	w.resMu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *writer) finish(r receipt, res result) {
	r.p.done <- res
	w.inflight.Done()
	<-w.slots
}

// resolve places queued receipts in order until the writer closes.
func (w *writer) resolve() {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
		case <-w.ctx.Done():
			return
		}
		for {
			w.resMu.Lock()
			if len(w.queue) == 0 {
				w.resMu.Unlock()
				break
			}
			r := w.queue[0]
			w.resMu.Unlock()
			res := w.place(r)
			w.resMu.Lock()
			w.queue = w.queue[1:]
			w.resMu.Unlock()
			w.finish(r, res)
		}
	}
}

// placeFast places a receipt that directly follows the last known
// position: nothing was stored in between, so it is the only copy.
func (w *writer) placeFast(seq int64, raw ID) (result, bool) {
	if !w.hasCursor || !raw.valid() || raw.Ledger != w.cursor.Ledger || raw.Entry != w.cursor.Entry+1 || len(w.first) > 0 {
		return result{}, false
	}
	w.cursor = raw
	return result{id: raw}, true
}

func (w *writer) place(r receipt) result {
	if r.err != nil {
		w.broken.Store(true)
		err := classify("append to", w.topic, r.err)
		if errors.Is(err, walimpls.ErrFenced) {
			return result{err: err}
		}
		return result{err: fmt.Errorf("%w: %w", walimpls.ErrOutcomeUnknown, err)}
	}
	seq, raw := r.p.seq, idOf(r.id)
	defer func() {
		for s := range w.first {
			if s <= seq {
				delete(w.first, s)
			}
		}
	}()
	switch {
	case !raw.valid():
		// Deduplicated resend: the copy stored earlier lies after cursor.
		if _, ok := w.first[seq]; !ok {
			if err := w.readForward(seq, noPosition); err != nil {
				return w.unplaced(seq, raw, err)
			}
		}
	case w.hasCursor && raw.cmp(w.cursor) <= 0:
		// Read already.
	case w.hasCursor && raw.Ledger == w.cursor.Ledger && raw.Entry == w.cursor.Entry+1:
		// Nothing was stored between the last known position and this one.
		w.cursor = raw
		if _, ok := w.first[seq]; !ok {
			w.first[seq] = raw
		}
	default:
		if err := w.readForward(seq, raw); err != nil {
			return w.unplaced(seq, raw, err)
		}
	}
	id, ok := w.first[seq]
	if !ok {
		return w.unplaced(seq, raw, errors.New("no stored copy found"))
	}
	return result{id: id}
}

func (w *writer) unplaced(seq int64, raw ID, err error) result {
	w.broken.Store(true)
	return result{err: fmt.Errorf("%w: pulsar: %s stored message %d (receipt %v) but its first copy could not be located: %w",
		walimpls.ErrOutcomeUnknown, w.topic, seq, raw, err)}
}

// readForward reads the topic from cursor and records the first copy of
// every sequence number >= seq, until it reaches until (when valid) or
// finds seq. A skipped entry (the client's reader can skip one across a
// reconnect) restarts the read.
func (w *writer) readForward(seq int64, until ID) error {
	var lastErr error
	for range 3 {
		ctx, cancel := context.WithTimeout(w.ctx, w.o.cfg.operationTimeout)
		pos, err := w.readForwardOnce(ctx, seq, until)
		cancel()
		if err == nil {
			w.cursor, w.hasCursor = pos, true
			return nil
		}
		lastErr = err
		if w.ctx.Err() != nil {
			break
		}
	}
	return lastErr
}

var errSkipped = errors.New("reader skipped an entry")

// noPosition is an invalid ID: "read until the sequence number is found".
var noPosition = ID{Ledger: -1, Entry: -1}

func (w *writer) readForwardOnce(ctx context.Context, seq int64, until ID) (ID, error) {
	start := pc.EarliestMessageID()
	if w.hasCursor {
		start = w.cursor.client()
	}
	r, err := w.o.client.CreateReader(pc.ReaderOptions{Topic: w.topic, StartMessageID: start, StartMessageIDInclusive: true})
	if err != nil {
		return ID{}, err
	}
	defer r.Close()
	prev, hasPrev := w.cursor, w.hasCursor
	found := map[int64]ID{}
	for {
		m, err := r.Next(ctx)
		if err != nil {
			return ID{}, err
		}
		pos := idOf(m.ID())
		if w.hasCursor && pos.cmp(w.cursor) <= 0 {
			if pos != w.cursor {
				return ID{}, fmt.Errorf("reading from %v gave %v", w.cursor, pos)
			}
			continue
		}
		if hasPrev && !follows(prev, pos) {
			return ID{}, fmt.Errorf("%w: %v after %v", errSkipped, pos, prev)
		}
		prev, hasPrev = pos, true
		if s, ok := seqOf(m); ok && s >= seq {
			if _, seen := found[s]; !seen {
				found[s] = pos
			}
		}
		_, hit := found[seq]
		if (until.valid() && pos.cmp(until) >= 0) || (!until.valid() && hit) {
			for s, id := range found {
				if old, ok := w.first[s]; !ok || id.LT(old) {
					w.first[s] = id
				}
			}
			return pos, nil
		}
	}
}

// follows reports whether next is the position right after prev: the next
// message of the same batch, the next entry of the same ledger, or the first
// entry of a later ledger.
func follows(prev, next ID) bool {
	switch {
	case next.Ledger == prev.Ledger && next.Entry == prev.Entry:
		return next.Batch == prev.Batch+1
	case next.Ledger == prev.Ledger:
		return next.Entry == prev.Entry+1 && next.Batch == 0
	}
	return next.Ledger > prev.Ledger && next.Entry == 0 && next.Batch == 0
}

// seqOf returns the driver's sequence number of m, if it has one.
func seqOf(m pc.Message) (int64, bool) {
	v, ok := m.Properties()[SeqProperty]
	if !ok {
		return 0, false
	}
	s, err := strconv.ParseInt(v, 10, 64)
	return s, err == nil && s >= 0
}

// tail is what a writer recovers from the end of its topic.
type tail struct {
	last     ID   // position of the last message
	nonEmpty bool // false: the topic is empty and last means nothing
	maxSeq   int64
	maxTerm  int64
}

// recoverTail returns the position of the topic's last message and the
// highest sequence number and term among the last recoverWindow entries, or
// in the whole topic if those carry none (-1 if no message has one).
func recoverTail(ctx context.Context, o *opener, topic string) (tail, error) {
	t := tail{maxSeq: -1, maxTerm: -1}
	var err error
	t.last, t.nonEmpty, err = lastPosition(o, topic)
	if err != nil || !t.nonEmpty {
		return t, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.operationTimeout)
	defer cancel()
	from := NewID(t.last.Ledger, max(0, t.last.Entry-recoverWindow), 0).client()
	for range 2 {
		if err := t.scan(ctx, o, topic, from); err != nil || t.maxSeq >= 0 {
			return t, err
		}
		from = pc.EarliestMessageID()
	}
	return t, nil
}

// lastPosition asks the broker for the topic's last message id; ok is false
// for an empty topic (the broker reports entry -1).
func lastPosition(o *opener, topic string) (ID, bool, error) {
	r, err := o.client.CreateReader(pc.ReaderOptions{Topic: topic, StartMessageID: pc.LatestMessageID(), ReceiverQueueSize: 1})
	if err != nil {
		return ID{}, false, err
	}
	defer r.Close()
	last, err := r.GetLastMessageID()
	if err != nil {
		return ID{}, false, err
	}
	id := idOf(last)
	return id, id.valid(), nil
}

// scan reads from from to t.last and records the highest sequence number
// and term.
func (t *tail) scan(ctx context.Context, o *opener, topic string, from pc.MessageID) error {
	r, err := o.client.CreateReader(pc.ReaderOptions{Topic: topic, StartMessageID: from, StartMessageIDInclusive: true})
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		m, err := r.Next(ctx)
		if err != nil {
			return err
		}
		if s, ok := seqOf(m); ok {
			t.maxSeq = max(t.maxSeq, s)
		}
		if v, ok := m.Properties()[TermProperty]; ok {
			if term, err := strconv.ParseInt(v, 10, 64); err == nil {
				t.maxTerm = max(t.maxTerm, term)
			}
		}
		if idOf(m.ID()).cmp(t.last) >= 0 {
			return nil
		}
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
