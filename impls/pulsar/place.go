package pulsar

import (
	"context"
	"errors"
	"fmt"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/walimpls"
)

type receipt struct {
	p   *pending
	id  pc.MessageID
	err error
}

// receipt is the client's send callback.
func (w *writer) receipt(r receipt) {
	if r.err != nil && r.p.submitting.Load() && errors.Is(r.err, pc.ErrMessageTooLarge) {
		// The broker announced a smaller limit than configured: refused
		// before sending, nothing written, the writer stays healthy.
		r.p.rejected.Store(true)
		w.finish(r, result{err: fmt.Errorf("%w: pulsar: append to %s: the broker's limit is below WithMaxMessageSize: %w",
			walimpls.ErrMessageTooLarge, w.topic, r.err)})
		return
	}
	w.resMu.Lock()
	if len(w.queue) == 0 && r.err == nil {
		if res, ok := w.placeFast(r.p.seq, idOf(r.id)); ok {
			w.resMu.Unlock()
			w.finish(r, res)
			return
		}
	}
	w.queue = append(w.queue, r)
	if w.resolving == nil {
		done := make(chan struct{})
		w.resolving = done
		go w.resolve(done)
	}
	w.resMu.Unlock()
}

func (w *writer) finish(r receipt, res result) {
	claim := r.p.claim // r.p may be reused once done is received
	r.p.done <- res
	w.inflight.Done()
	if !claim {
		<-w.slots
	}
}

// resolve places queued receipts in order until the queue is empty, then
// ends (closing done); the next queued receipt starts another.
func (w *writer) resolve(done chan struct{}) {
	defer close(done)
	for {
		w.resMu.Lock()
		if len(w.queue) == 0 {
			w.resolving = nil
			w.resMu.Unlock()
			return
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

// placeFast places a receipt that directly follows the last known
// position: nothing was stored in between, so it is the only copy.
func (w *writer) placeFast(seq int64, raw ID) (result, bool) {
	if !w.hasCursor || !raw.valid() || raw.Ledger != w.cursor.Ledger || raw.Entry != w.cursor.Entry+1 || len(w.first) > 0 || w.higher {
		return result{}, false
	}
	w.cursor = raw
	return result{id: raw}, true
}

// place finds the position scanners deliver for a receipt: the first copy
// of the message's (term, sequence number) stored before any message of a
// higher term. A copy after a higher term's message is a zombie's: scanners
// drop it, so it is never acknowledged (ErrFenced).
func (w *writer) place(r receipt) result {
	if r.err != nil {
		return w.failed(r.err)
	}
	seq, raw := r.p.seq, idOf(r.id)
	defer func() {
		for s := range w.first {
			if s <= seq {
				delete(w.first, s)
			}
		}
	}()
	if _, ok := w.first[seq]; !ok && !w.higher {
		var err error
		switch {
		case !raw.valid():
			// Deduplicated resend: the copy stored earlier lies after cursor.
			err = w.readForward(seq, noPosition)
		case w.hasCursor && raw.cmp(w.cursor) <= 0:
			// Read already.
		case w.hasCursor && raw.Ledger == w.cursor.Ledger && raw.Entry == w.cursor.Entry+1:
			// Nothing was stored between the last known position and this one.
			w.cursor, w.first[seq] = raw, raw
		default:
			err = w.readForward(seq, raw)
		}
		if err != nil {
			return w.unplaced(seq, raw, err)
		}
	}
	if id, ok := w.first[seq]; ok {
		return result{id: id}
	}
	if w.higher {
		w.broken.Store(true) // the next Append finds the higher term at the tail: ErrFenced
		err := fmt.Errorf("%w: pulsar: %s: a higher term wrote the channel before message %d of term %d was stored",
			walimpls.ErrFenced, w.topic, seq, w.term)
		if raw.valid() {
			// Stored after the higher term's message, where no scanner
			// delivers it; physically it is there.
			err = fmt.Errorf("%w: %w", walimpls.ErrOutcomeUnknown, err)
		}
		return result{err: err}
	}
	return w.unplaced(seq, raw, errors.New("no stored copy found"))
}

// failed is the result of a send the client failed: it may have reached
// the broker before the connection went, so the outcome is unknown.
// ProducerFenced on a reconnect is no proof of a higher term: the topic
// epoch moves with every new exclusive producer, also a lower term's that
// takes the topic while this writer is disconnected and withdraws when it
// finds this term's claim, and "an existing exclusive producer" may be this
// writer's own registration on a connection the broker has not seen die.
// The next Append takes the producer again and learns from the topic (and
// the holder) whether a higher term took over.
func (w *writer) failed(cause error) result {
	w.broken.Store(true)
	err := classify("append to", w.topic, cause)
	if errors.Is(err, walimpls.ErrFenced) {
		err = fmt.Errorf("%w: pulsar: append to %s: the producer was refused on reconnect: %w", walimpls.ErrUnavailable, w.topic, cause)
	}
	return result{err: fmt.Errorf("%w: %w", walimpls.ErrOutcomeUnknown, err)}
}

func (w *writer) unplaced(seq int64, raw ID, err error) result {
	w.broken.Store(true)
	return result{err: fmt.Errorf("%w: pulsar: %s stored message %d (receipt %v) but its first copy could not be located: %w",
		walimpls.ErrOutcomeUnknown, w.topic, seq, raw, err)}
}

// readForward reads the topic from cursor and records the first copy of
// every sequence number >= seq of this writer's term, until it reaches
// until (when valid; else the end of the topic) or finds seq, or reads a
// message of a higher term. A skipped entry (the client's reader can skip
// one across a reconnect) restarts the read.
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

func (w *writer) readForwardOnce(ctx context.Context, seq int64, until ID) (ID, error) {
	start := pc.EarliestMessageID()
	if w.hasCursor {
		start = w.cursor.client()
	}
	r, err := w.o.client.CreateReader(pc.ReaderOptions{Topic: w.topic, StartMessageID: start, StartMessageIDInclusive: true, ReceiverQueueSize: minReceiverQueue})
	if err != nil {
		return ID{}, err
	}
	defer closeReader(r)
	end := until
	if !end.valid() {
		// A deduplicated resend: a copy is stored before today's end.
		last, err := r.GetLastMessageID()
		if err != nil {
			return ID{}, err
		}
		end = idOf(last)
	}
	prev, hasPrev := w.cursor, w.hasCursor
	prevSize := int32(1) // the cursor is a receipt or a read position of the driver's own, never batched
	if hasPrev && (!end.valid() || end.cmp(prev) <= 0) {
		return prev, nil // nothing stored after the cursor
	}
	found := map[int64]ID{}
	keep := func(pos ID) (ID, error) {
		for s, id := range found {
			if old, ok := w.first[s]; !ok || id.LT(old) {
				w.first[s] = id
			}
		}
		return pos, nil
	}
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
		if hasPrev && !follows(prev, prevSize, pos) {
			return ID{}, fmt.Errorf("%w: %v after %v", errSkipped, pos, prev)
		}
		prev, prevSize, hasPrev = pos, m.ID().BatchSize(), true
		st, own := stampOf(m)
		if own && st.term > w.term {
			w.higher = true
			return keep(pos)
		}
		if own && st.seq >= seq && st.term == w.term {
			if _, seen := found[st.seq]; !seen {
				found[st.seq] = pos
			}
		}
		_, hit := found[seq]
		if pos.cmp(end) >= 0 || (!until.valid() && hit) {
			return keep(pos)
		}
	}
}

// follows reports whether next is the position right after prev: the next
// message of the same batch, the next entry of the same ledger, or the first
// entry of a later ledger. size is the size of prev's batch as the client
// reports it (1 for a message that is not batched, 0 if unknown): the next
// entry follows only the last message of a batch, so a skipped batch tail
// (the client's reader can skip messages across a reconnect) is a gap.
func follows(prev ID, size int32, next ID) bool {
	if prev.Batch+1 < size {
		return next.Ledger == prev.Ledger && next.Entry == prev.Entry && next.Batch == prev.Batch+1
	}
	switch {
	case next.Ledger == prev.Ledger && next.Entry == prev.Entry:
		return next.Batch == prev.Batch+1 && size == 0
	case next.Ledger == prev.Ledger:
		return next.Entry == prev.Entry+1 && next.Batch == 0
	}
	return next.Ledger > prev.Ledger && next.Entry == 0 && next.Batch == 0
}

// noPosition is an invalid ID: "read until the sequence number is found".
var noPosition = ID{Ledger: -1, Entry: -1}
