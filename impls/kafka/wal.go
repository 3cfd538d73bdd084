package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

type wal struct {
	*helper.WALBase
	o                *opener
	topic            string
	writer           *writer // nil for ReadOnly
	removeFromOpener func()
}

func (w *wal) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	if err := w.CheckAppend(ctx, msg); err != nil {
		return nil, err
	}
	if err := checkAppendProperties(w.Channel().Name, msg.Properties()); err != nil {
		return nil, err
	}
	if err := w.writer.failedErr(); err != nil {
		return nil, err
	}
	body := encodeRecordBody(nil, msg.Payload(), msg.Properties())
	if size := batchSize([][]byte{body}); size > w.o.maxBatch {
		return nil, fmt.Errorf("%w: kafka channel %q: message encodes to a %d-byte batch, the broker accepts %d",
			walimpls.ErrMessageTooLarge, w.Channel().Name, size, w.o.maxBatch)
	}
	off, err := w.writer.append(ctx, body)
	if err != nil {
		return nil, err
	}
	return helper.NewInt64ID(Name, off), nil
}

// Truncate deletes the records below id+1 with DeleteRecords. When that
// would delete the writer's newest batch it first appends a fence record,
// so the log always keeps a batch of the channel's producer at or after
// the writer's newest: a later open reads its sequence from there, and a
// writer checking ownership (verify) finds it. A DeleteRecords that failed
// may have been applied: that is within Truncate's contract, and calling
// it again is harmless.
func (w *wal) Truncate(ctx context.Context, id message.MessageID) error {
	if err := w.CheckTruncate(ctx, id); err != nil {
		return err
	}
	if err := w.writer.failedErr(); err != nil {
		return err
	}
	off := id.(helper.Int64ID).Value()
	first, end, err := w.o.client.offsets(ctx, w.topic)
	if err != nil {
		return fmt.Errorf("%w: %w", walimpls.ErrUnavailable, err)
	}
	if off >= end {
		return fmt.Errorf("%w: truncate to %v, beyond the last appended message of kafka channel %q", walimpls.ErrInvalidArgument, id, w.Channel().Name)
	}
	if off+1 <= first {
		return nil
	}
	if off >= w.writer.ownBase.Load() {
		body := encodeRecordBody(nil, nil, message.Properties{fenceHeader: termString(w.Channel().Term)})
		if _, err := w.writer.append(ctx, body); err != nil {
			return err
		}
	}
	if err := w.o.client.deleteRecords(ctx, w.topic, off+1); err != nil {
		return fmt.Errorf("%w: %w", walimpls.ErrUnavailable, err)
	}
	return nil
}

func (w *wal) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	if err := w.CheckRead(ctx, opt); err != nil {
		return nil, err
	}
	first, end, err := w.o.client.offsets(ctx, w.topic)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", walimpls.ErrUnavailable, err)
	}
	p := opt.DeliverPolicy
	start := int64(firstRetained)
	switch p.Kind() {
	case walimpls.DeliverKindLatest:
		start = end
	case walimpls.DeliverKindStartFrom:
		start = p.ID().(helper.Int64ID).Value()
	case walimpls.DeliverKindStartAfter:
		start = p.ID().(helper.Int64ID).Value() + 1
	}
	if start != firstRetained && start < first {
		return nil, fmt.Errorf("%w: %v on kafka channel %q: offsets below %d are deleted", walimpls.ErrOutOfRange, p, w.Channel().Name, first)
	}
	return w.StartScanner(opt, func(ctx context.Context, emit helper.Emit) error {
		return w.scan(ctx, start, emit)
	})
}

// firstRetained stands for DeliverAll's start, resolved when the scan begins.
const firstRetained = -1

// scan reads through the fetch source of the partition's leader
// (source.go) and delivers what a read_committed consumer sees
// (records.go), moving to another broker after a leader move and backing
// off after failed fetches. A start below the log start offset is
// ErrOutOfRange: Kafka would answer OFFSET_OUT_OF_RANGE and a Reader would
// silently jump, the scanner never does.
func (w *wal) scan(ctx context.Context, offset int64, emit helper.Emit) error {
	c := w.o.client
	var cur *cursor
	defer func() {
		if cur != nil {
			cur.close()
		}
	}()
	var failingSince time.Time
	attempt := 0
	// failed backs off after err; it gives up with ErrUnavailable once
	// reads failed for WriteTimeout. With drop, the cursor is left (the
	// leader may have moved) and the next read looks the leader up again.
	failed := func(err error, drop bool) error {
		if failingSince.IsZero() {
			failingSince = time.Now()
		} else if time.Since(failingSince) > c.cfg.WriteTimeout {
			return fmt.Errorf("%w: kafka scan of %s at offset %d: %w", walimpls.ErrUnavailable, w.topic, offset, err)
		}
		if drop && cur != nil {
			cur.close()
			cur = nil
		}
		c.invalidate(w.topic)
		attempt++
		return sleepCtx(ctx, backoff(attempt))
	}
	resume := func() {
		if cur != nil {
			cur.resume(offset)
		}
	}
	dec := newDecoder(w.Channel().Name, w.topic)
	// gapAt is the offset where the last answer skipped offsets; the
	// answer fetched again there decides (see errOffsetGap below).
	gapAt := int64(-1)
	var pending []message.ImmutableMessage
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if offset == firstRetained {
			first, _, err := c.offsets(ctx, w.topic)
			if err != nil {
				if ferr := failed(err, true); ferr != nil {
					return ferr
				}
				continue
			}
			offset = first
		}
		if cur == nil {
			addr, err := c.leader(ctx, w.topic)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if ferr := failed(err, true); ferr != nil {
					return ferr
				}
				continue
			}
			cur = c.broker(addr).sourceOf().register(w.topic, offset)
		}
		var ch chunk
		select {
		case ch = <-cur.mail:
		case <-ctx.Done():
			return ctx.Err()
		}
		cur.taken()
		switch err := ch.err; {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errClientClosed):
			return fmt.Errorf("%w: kafka scan of %s: %w", walimpls.ErrClosed, w.topic, err)
		case errors.Is(err, kafkago.OffsetOutOfRange):
			first, end, lerr := c.offsets(ctx, w.topic)
			switch {
			case lerr != nil:
				if ferr := failed(lerr, false); ferr != nil {
					return ferr
				}
			case offset < first:
				return fmt.Errorf("%w: kafka channel %q: offsets below %d were deleted while the scanner was at %d", walimpls.ErrOutOfRange, w.Channel().Name, first, offset)
			case offset > end:
				// A start beyond the end: wait for the log to grow.
				if err := sleepCtx(ctx, pastEndWait); err != nil {
					return err
				}
			}
			resume()
			continue
		default:
			if ferr := failed(err, isStaleMetadata(err) || !isKafkaError(err)); ferr != nil {
				return ferr
			}
			resume()
			continue
		}
		if ch.from != offset {
			// Fetched before the scanner moved its cursor back (after a
			// gap, below): the source moved on, the answer is stale.
			putRecBuf(ch.records)
			continue
		}
		failingSince, attempt = time.Time{}, 0
		// Decode the whole answer, then emit: the consumer then drains a
		// run of messages per wake-up instead of sleeping between reads.
		var next int64
		var err error
		dec.gaps = c.cfg.AllowRetention || gapAt == offset
		pending, next, err = dec.decode(pending[:0], ch.records, offset, ch.aborted)
		putRecBuf(ch.records)
		for i, msg := range pending {
			if emitErr := emit(msg); emitErr != nil {
				return emitErr
			}
			pending[i] = nil
		}
		if errors.Is(err, errOffsetGap) {
			// What came before the gap is delivered; the rest is fetched
			// again. An answer for another offset (a fetch matched to the
			// wrong scanner) is not repeated; a gap the broker answers
			// again is the log's (compaction, or a broker that leaves out
			// aborted transactions' batches), and the scanner reads on.
			offset, gapAt = next, next
			resume()
			continue
		}
		if err != nil {
			return err
		}
		if next != ch.next {
			return fmt.Errorf("kafka: scan of %s: the decoder ended at offset %d, the fetch at %d", w.topic, next, ch.next)
		}
		offset = next
		if cap(pending) > 4096 {
			pending = nil // an idle scanner holds no large slice
		}
	}
}

// isKafkaError reports an error the broker answered with (the connection
// is fine), as opposed to a failed connection.
func isKafkaError(err error) bool {
	var ke kafkago.Error
	return errors.As(err, &ke)
}

// fence stops this WAL's writer with err (a newer WAL of the same channel
// and term opened in this opener).
func (w *wal) fence(err error) {
	if w.writer != nil {
		w.writer.close(err)
	}
}

func (w *wal) Close() {
	if w.WALBase.Close() {
		if w.writer != nil {
			w.writer.close(fmt.Errorf("%w: kafka channel %q", walimpls.ErrClosed, w.Channel().Name))
			w.o.forget(w)
		}
		if w.removeFromOpener != nil {
			w.removeFromOpener()
		}
	}
}

// LatestID implements walimpls.LatestIDReader: the offset before the high
// watermark. It may be the driver's own fence record, which scanners skip;
// StartAfter(it) is still exactly "what is appended next".
func (w *wal) LatestID(ctx context.Context) (message.MessageID, error) {
	if err := w.CheckRead(ctx, walimpls.ReadOption{}); err != nil {
		return nil, err
	}
	_, end, err := w.o.client.offsets(ctx, w.topic)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", walimpls.ErrUnavailable, err)
	}
	if end <= 0 {
		return nil, nil
	}
	return helper.NewInt64ID(Name, end-1), nil
}
