package pulsar

import (
	"context"
	"errors"
	"fmt"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// minReceiverQueue is the smallest prefetch a scanner's reader gets; above
// it the reader prefetches ReadOption.BufferSize messages, so memory stays
// bounded by what the caller asked for (the client's default is 1000
// messages, which for large messages is a lot).
const minReceiverQueue = 64

// maxConfirm is how often a scanner re-reads from its last good position
// before it accepts a gap as stored (see scanState.suspect).
const maxConfirm = 2

// Read opens a scanner. The start is resolved here, so DeliverLatest means
// "after the last message stored when Read returned".
func (w *wal) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	if err := w.CheckRead(ctx, opt); err != nil {
		return nil, err
	}
	st := &scanState{w: w, lastSeq: -1, lastTerm: -1, queue: max(opt.BufferSize(), minReceiverQueue)}
	p := opt.DeliverPolicy
	switch p.Kind() {
	case walimpls.DeliverKindAll:
		st.fromEarliest = true
	case walimpls.DeliverKindLatest:
		var last ID
		var nonEmpty bool
		if err := w.runCtx(ctx, "read", func() (err error) { last, nonEmpty, err = lastPosition(w.o, w.topic); return err }); err != nil {
			return nil, err
		}
		if nonEmpty {
			st.start = last
		} else {
			// Empty topic: everything stored later is after the open.
			st.fromEarliest = true
		}
	case walimpls.DeliverKindStartFrom, walimpls.DeliverKindStartAfter:
		id, ok := p.ID().(ID)
		if !ok || !id.valid() {
			return nil, fmt.Errorf("%w: %v: not a pulsar message position", walimpls.ErrInvalidArgument, p)
		}
		st.start, st.deliverStart = id, p.Kind() == walimpls.DeliverKindStartFrom
	}
	if err := st.openCtx(ctx); err != nil {
		return nil, err
	}
	s, err := w.StartScanner(opt, st.run)
	if err != nil {
		closeReader(st.reader)
		return nil, err
	}
	return s, nil
}

// scanState is one scanner's read loop. It delivers each stored message
// once, in position order, and never silently passes a gap:
//
//   - A position at or before the last one seen is a repeat (the client's
//     reader repeats a message across a reconnect in a race): dropped.
//   - A message whose (term, sequence number) is at or below the last
//     delivered one is a second copy (a resend after a lost receipt without
//     broker deduplication) or a zombie's (a lower term's message stored
//     after a higher term's, which a broker that does not fence the
//     zombie's reconnect lets through): dropped. The writer never
//     acknowledges either.
//   - A position that does not follow the last one (the next message of its
//     batch; after a batch's last message, the same ledger's next entry or
//     entry 0 of a later ledger), or a sequence number above the
//     last plus one, is suspect: the client's reader can skip a message
//     across a reconnect. The reader is recreated at the last good position;
//     only when the same suspect comes next maxConfirm times is the gap taken
//     as stored (a real broker's markers, or a message a failed writer never
//     stored) and the message delivered. Entry 0 of a later ledger follows
//     by place but is re-read once all the same (confirmsNeeded): the
//     reader may have skipped the end of the ledger before.
//   - Messages of other clients (see stampOf) take part in the position
//     check only, and their reserved properties are renamed
//     (deliveredProperties).
type scanState struct {
	w            *wal
	queue        int // the reader's receiver queue: what it prefetches
	reader       pc.Reader
	fromEarliest bool
	start        ID   // first position to read, inclusive, when !fromEarliest
	deliverStart bool // StartFrom: start itself is delivered

	last     ID    // last position seen (delivered or dropped)
	lastSize int32 // the size of last's batch (1: not batched; see follows)
	hasLast  bool
	lastSeq  int64 // sequence number of the last delivered message, -1 if none yet
	lastTerm int64 // and its term (-1 for a message without one)
	suspect  ID
	confirms int
	idle     *idleWatch // nil until the scanner may park (nextOrIdle)
}

// open creates the reader at the resume position: the last position seen,
// inclusive, so its arrival proves the reader starts where expected.
func (st *scanState) open() error {
	opts := pc.ReaderOptions{Topic: st.w.topic, StartMessageIDInclusive: true, ReceiverQueueSize: st.queue}
	switch {
	case st.hasLast:
		opts.StartMessageID = st.last.client()
	case st.fromEarliest:
		opts.StartMessageID = pc.EarliestMessageID()
	default:
		opts.StartMessageID = st.start.client()
	}
	r, err := st.w.o.client.CreateReader(opts)
	if err != nil {
		return err
	}
	st.reader = r
	return nil
}

// openCtx is open honouring ctx; a reader created after ctx ended is closed.
func (st *scanState) openCtx(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- st.open() }()
	select {
	case err := <-done:
		return classify("read", st.w.topic, err)
	case <-ctx.Done():
		go func() {
			if <-done == nil {
				closeReader(st.reader)
			}
		}()
		return fmt.Errorf("pulsar: read %s: %w", st.w.topic, ctx.Err())
	}
}

// anchor is the position the reader's first message must have, if any.
func (st *scanState) anchor() (ID, bool) {
	if st.hasLast {
		return st.last, true
	}
	return st.start, !st.fromEarliest
}

func (st *scanState) run(ctx context.Context, emit helper.Emit) error {
	defer func() {
		if st.idle != nil {
			st.idle.stop()
		}
		closeReader(st.reader)
	}()
	failures := 0
	anchored := false
	for {
		m, err := st.nextOrIdle(ctx)
		if errors.Is(err, errIdle) {
			if err := st.park(ctx); err != nil {
				return err
			}
			anchored = false
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			if failures > 5 {
				return classify("read", st.w.topic, err)
			}
			if err := st.reopen(ctx, failures); err != nil {
				return err
			}
			anchored = false
			continue
		}
		failures = 0
		pos := idOf(m.ID())
		if !anchored {
			anchored = true
			if want, ok := st.anchor(); ok {
				if pos.cmp(want) < 0 {
					anchored = false // before the start: the client's inclusive filter passed a batch neighbour
					continue
				}
				if pos != want {
					if err := st.suspectAt(ctx, pos, true); err != nil {
						return err
					}
					anchored = false
					continue
				}
				if st.hasLast {
					continue // the resume position itself: seen already
				}
				st.last, st.lastSize, st.hasLast = pos, m.ID().BatchSize(), true
				stp, own := stampOf(m)
				if own {
					st.lastSeq, st.lastTerm = stp.seq, stp.term
				}
				if !st.deliverStart || stp.claim {
					continue
				}
				if err := emit(st.toMessage(m, pos, own)); err != nil {
					return err
				}
				continue
			}
		}
		if st.hasLast && pos.cmp(st.last) <= 0 {
			continue // a repeat
		}
		// Only the driver's own messages carry a sequence number; other
		// clients' take part in the position check only.
		stp, own := stampOf(m)
		gap := st.hasLast && !follows(st.last, st.lastSize, pos)
		if own && st.seen(stp.term, stp.seq) {
			if !gap {
				st.last, st.lastSize = pos, m.ID().BatchSize() // a second copy or a zombie's: seen, not delivered
				continue
			}
		} else if own && st.lastSeq >= 0 && stp.seq > st.lastSeq+1 {
			gap = true
		} else if own && st.lastSeq < 0 && stp.seq != 0 && !st.hasLast {
			gap = true // the first message read from the earliest: is it really the first?
		}
		if need := st.confirmsNeeded(pos, gap); need > 0 && !(st.suspect == pos && st.confirms >= need) {
			if err := st.suspectAt(ctx, pos, false); err != nil {
				return err
			}
			anchored = false
			continue
		}
		st.last, st.lastSize, st.hasLast = pos, m.ID().BatchSize(), true
		if own {
			if st.seen(stp.term, stp.seq) {
				continue // a second copy right after a confirmed gap
			}
			st.lastSeq, st.lastTerm = stp.seq, stp.term
		}
		if stp.claim {
			continue // seen, not delivered
		}
		if err := emit(st.toMessage(m, pos, own)); err != nil {
			return err
		}
	}
}

// seen reports whether (term, s) is at or below the last delivered
// message's: a lower term's message after a higher term's is a zombie's.
// The sequence number continues across terms, so a higher term with a
// lower number is not a repeat (a writer that recovered less than was
// stored) and is delivered.
func (st *scanState) seen(term, s int64) bool {
	return st.lastSeq >= 0 && (term < st.lastTerm || (term == st.lastTerm && s <= st.lastSeq))
}

// confirmsNeeded says how many times pos must come next from a reader
// recreated at the last position before it is taken: maxConfirm for a
// gap; one for a later ledger's first entry, which follows any position by
// place, so a reader that skipped the end of a ledger would pass unseen
// when what it skipped was another client's message (no sequence number
// to show it; seen with a reconnect right before a ledger's last entry);
// none otherwise. A ledger changes at a broker restart or a rollover
// (tens of thousands of entries), so the re-read is rare.
func (st *scanState) confirmsNeeded(pos ID, gap bool) int {
	switch {
	case gap:
		return maxConfirm
	case st.hasLast && pos.Ledger != st.last.Ledger:
		return 1
	}
	return 0
}

// suspectAt records pos as suspect and recreates the reader at the last good
// position. A start position that stays missing is out of range.
func (st *scanState) suspectAt(ctx context.Context, pos ID, atStart bool) error {
	if st.suspect == pos {
		st.confirms++
	} else {
		st.suspect, st.confirms = pos, 1
	}
	if atStart && st.confirms > maxConfirm {
		want, _ := st.anchor()
		return fmt.Errorf("%w: pulsar %s: position %v is no longer stored (the topic continues at %v)",
			walimpls.ErrOutOfRange, st.w.topic, want, pos)
	}
	return st.reopen(ctx, 0)
}

func (st *scanState) reopen(ctx context.Context, failures int) error {
	closeReader(st.reader)
	for attempt := 0; ; attempt++ {
		if failures+attempt > 0 {
			d := min(time.Duration(failures+attempt)*50*time.Millisecond, time.Second)
			select {
			case <-time.After(d):
			case <-ctx.Done():
				st.reader = closedReader{}
				return ctx.Err()
			}
		}
		err := st.open()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || attempt >= 5 {
			st.reader = closedReader{}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return classify("recreate the reader of", st.w.topic, err)
		}
	}
}

func (st *scanState) toMessage(m pc.Message, pos ID, own bool) message.ImmutableMessage {
	return message.NewImmutableMessage(pos, st.w.Channel().Name, m.Payload(), deliveredProperties(m, own))
}

// closedReader stands in after a failed reopen so the deferred Close is safe.
type closedReader struct{ pc.Reader }

func (closedReader) Close() {}

// closeReader closes r while reading what it still delivers, so that
// closing never blocks the client's connection. pulsar-client-go v0.19.0
// hands each entry it receives from the connection's single reader
// goroutine to the consumer's queue channel (as many slots as the receiver
// queue) and waits there when it is full; only the consumer's dispatcher
// empties it, and only while the application takes messages. Across a
// reconnect a reader can be handed more messages than its receiver queue
// holds. Closed then without being read, the connection's goroutine waits
// on the full queue, so the broker's answer to CLOSE_CONSUMER is never
// read; Close gives up after the operation timeout and ends the
// dispatcher, and the goroutine waits for good: every producer, consumer
// and reader of the client on that connection stalls until the client's
// keep-alive check drops it (about a minute), and the goroutine leaks.
// Taking messages until Close returns keeps the queue moving until the
// broker has confirmed the close, after which no message of the consumer
// arrives. The ack that Next makes fails once the close started; the
// message is taken all the same.
func closeReader(r pc.Reader) {
	if _, ok := r.(closedReader); ok {
		return
	}
	closeDraining(func(ctx context.Context) error { _, err := r.Next(ctx); return err }, r.Close)
}

// closeDraining calls closeFn while next takes what the consumer still
// delivers (see closeReader).
func closeDraining(next func(context.Context) error, closeFn func()) {
	ctx, cancel := context.WithCancel(context.Background())
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			err := next(ctx)
			var perr *pc.Error
			if ctx.Err() != nil || (errors.As(err, &perr) && perr.Result() == pc.ConsumerClosed) {
				return
			}
		}
	}()
	closeFn()
	cancel()
	<-drained
}

// LatestID implements walimpls.LatestIDReader: the last stored position,
// nil for an empty topic.
func (w *wal) LatestID(ctx context.Context) (message.MessageID, error) {
	if err := w.CheckRead(ctx, walimpls.ReadOption{}); err != nil {
		return nil, err
	}
	var last ID
	var nonEmpty bool
	if err := w.runCtx(ctx, "read", func() (err error) { last, nonEmpty, err = lastPosition(w.o, w.topic); return err }); err != nil {
		return nil, err
	}
	if !nonEmpty {
		return nil, nil
	}
	return last, nil
}
