package rmq

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// A scanner reads at most this much per iterator before it closes the
// iterator and hands the chunk to its consumer, so a slow consumer never
// pins memtables or sstables and memory stays at buffer + one chunk.
const (
	chunkMessages = 4096
	chunkBytes    = 4 << 20
)

// fromFirstRetained stands for DeliverAll's start, resolved when the scan
// begins, so a truncation between Read and the first read is no error.
const fromFirstRetained = -1

func (w *wal) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	if err := w.CheckRead(ctx, opt); err != nil {
		return nil, err
	}
	start, err := w.startSeq(opt.DeliverPolicy)
	if err != nil {
		return nil, err
	}
	return w.StartScanner(opt, func(ctx context.Context, emit helper.Emit) error {
		return w.scan(ctx, start, emit)
	})
}

// startSeq resolves a policy now; Latest means "after the scanner opened".
func (w *wal) startSeq(p walimpls.DeliverPolicy) (int64, error) {
	first, end, _ := w.ch.view()
	var start uint64
	switch p.Kind() {
	case walimpls.DeliverKindAll:
		return fromFirstRetained, nil
	case walimpls.DeliverKindLatest:
		return int64(end), nil
	case walimpls.DeliverKindStartFrom, walimpls.DeliverKindStartAfter:
		seq, err := seqOf(p.ID())
		if err != nil {
			return 0, err
		}
		start = seq
		if p.Kind() == walimpls.DeliverKindStartAfter {
			start++
		}
	}
	if start < first {
		return 0, fmt.Errorf("%w: %v on rmq channel %q: messages before sequence %d are truncated",
			walimpls.ErrOutOfRange, p, w.ch.name, first)
	}
	return int64(start), nil
}

func (w *wal) scan(ctx context.Context, start int64, emit helper.Emit) error {
	pos := uint64(start)
	if start == fromFirstRetained {
		pos, _, _ = w.ch.view()
	}
	ra := newReadAhead(w)
	defer ra.stop()
	for {
		first, end, changed := w.ch.view()
		if pos < first {
			// Truncated while this scanner was behind: never skip silently.
			return fmt.Errorf("%w: rmq channel %q truncated past sequence %d while scanning", walimpls.ErrOutOfRange, w.ch.name, pos)
		}
		if pos >= end {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		chunk, err := ra.next(pos, end)
		if err != nil {
			return err
		}
		ra.schedule(pos+uint64(len(chunk.msgs)), end)
		for i, msg := range chunk.msgs {
			if err := emit(msg); err != nil {
				ra.recycle(chunk) // its slot, if it was read ahead
				return err
			}
			chunk.msgs[i] = nil
		}
		pos += uint64(len(chunk.msgs))
		ra.recycle(chunk)
	}
}

// readChunk reads the durable messages from pos on, up to end and the
// chunk's limits (it stops after the message that reaches maxBytes), into
// c.msgs with c.bufs; the caller sets c.start.
func (w *wal) readChunk(c *chunk, pos, end uint64, maxMessages uint64, maxBytes int) error {
	msgs, bytes, err := w.readRange(c.msgs[:0], pos, min(end, pos+maxMessages), maxBytes, &c.bufs)
	c.msgs, c.bytes = msgs, bytes
	return err
}

// readRange appends the messages from pos on, below end, to dst with an
// iterator that lives only for the call, and says how many bytes they
// hold. A message missing from [pos, end) means a truncation overtook the
// scanner.
func (w *wal) readRange(dst []message.ImmutableMessage, pos, end uint64, maxBytes int, bufs *scanBuffers) ([]message.ImmutableMessage, int, error) {
	c, path := w.ch, w.opener.store.path
	bytes := 0
	next := pos
	// Every record below end was written before end moved, so a span
	// emptied here never holds bytes older than a record it serves.
	sp := &bufs.span
	*sp = vlogSpan{buf: sp.buf[:0]}
	if pos < min(end, c.memBase) {
		it, err := w.opener.store.db.NewIter(&pebble.IterOptions{LowerBound: dataKey(c.id, pos), UpperBound: dataKey(c.id, min(end, c.memBase))})
		if err != nil {
			return dst, bytes, fmt.Errorf("%w: rmq channel %q in %s: read at %d: %w", walimpls.ErrUnavailable, c.name, path, pos, err)
		}
		defer it.Close()
		for ok := it.First(); ok && bytes < maxBytes; ok = it.Next() {
			_, seq, err := parseDataKey(it.Key())
			if err != nil {
				return dst, bytes, err
			}
			if seq != next {
				break
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return dst, bytes, fmt.Errorf("%w: rmq channel %q in %s: read sequence %d: %w", walimpls.ErrUnavailable, c.name, path, seq, err)
			}
			msg, n, err := w.decodeValue(seq, v, bufs)
			if err != nil {
				return dst, bytes, err
			}
			dst = append(dst, msg)
			bytes += n
			next++
		}
		if err := it.Error(); err != nil {
			return dst, bytes, fmt.Errorf("%w: rmq channel %q in %s: read at %d: %w", walimpls.ErrUnavailable, c.name, path, next, err)
		}
	}
	// A read-only store keeps the value log pointers a crash took from
	// Pebble in memory (it cannot write them back).
	for ; next >= c.memBase && next < end && bytes < maxBytes; next++ {
		msg, n, err := w.decodePointer(next, c.memTail[next-c.memBase], bufs)
		if err != nil {
			return dst, bytes, err
		}
		dst = append(dst, msg)
		bytes += n
	}
	if len(dst) == 0 {
		if first, _, _ := c.view(); pos < first {
			return dst, bytes, fmt.Errorf("%w: rmq channel %q truncated past sequence %d while scanning", walimpls.ErrOutOfRange, c.name, pos)
		}
		return dst, bytes, fmt.Errorf("rmq channel %q in %s: sequence %d is missing below the durable end %d: data directory damaged", c.name, path, pos, end)
	}
	return dst, bytes, nil
}

// decodeValue turns a stored value, inline or a value log pointer, into a
// message that owns its bytes, and says how many bytes it holds.
func (w *wal) decodeValue(seq uint64, v []byte, bufs *scanBuffers) (message.ImmutableMessage, int, error) {
	c := w.ch
	p, ok, err := parseVlogPointer(v)
	if err != nil {
		return nil, 0, fmt.Errorf("rmq channel %q in %s: sequence %d: %w: data directory damaged", c.name, w.opener.store.path, seq, err)
	}
	if !ok {
		// Pebble reuses the iterator's buffers: copy.
		msg, err := decodeMessage(c.name, seq, v, &bufs.payloads)
		return msg, len(v), err
	}
	return w.decodePointer(seq, p, bufs)
}

// decodePointer reads sequence seq from the value log at p.
func (w *wal) decodePointer(seq uint64, p vlogPointer, bufs *scanBuffers) (message.ImmutableMessage, int, error) {
	c := w.ch
	sp := &bufs.span
	body, err := c.vlog.read(seq, p, sp)
	if err != nil && sp != nil {
		// The record alone, exactly as the pointer says, is what counts.
		sp.buf = sp.buf[:0]
		sp = nil
		body, err = c.vlog.read(seq, p, nil)
	}
	if err != nil {
		if first, _, _ := c.view(); seq < first {
			// The segment went with a truncation that overtook the scanner.
			return nil, 0, fmt.Errorf("%w: rmq channel %q truncated past sequence %d while scanning", walimpls.ErrOutOfRange, c.name, seq)
		}
		return nil, 0, fmt.Errorf("rmq channel %q in %s: sequence %d: value log: %w: data directory damaged", c.name, w.opener.store.path, seq, err)
	}
	// A span's buffer is reused: copy out of it. A record read alone is
	// the message's own already.
	var to *payloadArena
	if sp != nil {
		to = &bufs.payloads
	}
	msg, err := decodeMessage(c.name, seq, body, to)
	return msg, len(body), err
}

// decodeMessage parses a record; the message copies the payload into to
// unless to is nil (the record's buffer is the message's own already).
func decodeMessage(channel string, seq uint64, v []byte, to *payloadArena) (message.ImmutableMessage, error) {
	payload, props, err := message.DecodeRecord(v)
	if err != nil {
		return nil, fmt.Errorf("rmq channel %q: record at sequence %d: %w", channel, seq, err)
	}
	if to != nil {
		payload = to.copy(payload)
	}
	return message.NewImmutableMessage(helper.NewInt64ID(Name, int64(seq)), channel, payload, props), nil
}

// LatestID implements walimpls.LatestIDReader: the newest durable message,
// truncated or not, so StartAfter(it) is never below the retained range.
func (w *wal) LatestID(ctx context.Context) (message.MessageID, error) {
	if err := w.CheckRead(ctx, walimpls.ReadOption{}); err != nil {
		return nil, err
	}
	_, end, _ := w.ch.view()
	if end == 0 {
		return nil, nil
	}
	return helper.NewInt64ID(Name, int64(end-1)), nil
}
