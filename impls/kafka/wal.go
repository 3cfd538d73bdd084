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

const (
	fetchMaxWait  = 500 * time.Millisecond
	fetchMaxBytes = 1 << 20
)

// scan fetches from the partition leader on its own connection (fetch.go)
// and delivers what a read_committed consumer sees (records.go), redialing
// after leader moves and broken connections. A start below the log start
// offset is ErrOutOfRange: Kafka would answer OFFSET_OUT_OF_RANGE and a
// Reader would silently jump, the scanner never does.
func (w *wal) scan(ctx context.Context, offset int64, emit helper.Emit) error {
	c := w.o.client
	var fc *fetchConn
	var stopWatch func() bool
	closeConn := func() {
		if fc != nil {
			stopWatch()
			fc.Close()
			fc = nil
		}
	}
	defer closeConn()
	var failingSince time.Time
	failed := func(err error, attempt *int) error {
		closeConn()
		if failingSince.IsZero() {
			failingSince = time.Now()
		} else if time.Since(failingSince) > c.cfg.WriteTimeout {
			return fmt.Errorf("%w: kafka scan of %s at offset %d: %w", walimpls.ErrUnavailable, w.topic, offset, err)
		}
		if isStaleMetadata(err) {
			c.forceRefresh()
		}
		*attempt++
		return sleepCtx(ctx, backoff(*attempt))
	}
	attempt := 0
	dec := newDecoder(w.Channel().Name, w.topic)
	lim := fetchLimits{maxWait: fetchMaxWait, maxBytes: fetchMaxBytes, isolation: readCommitted}
	var pending []message.ImmutableMessage
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if offset == firstRetained {
			first, _, err := c.offsets(ctx, w.topic)
			if err != nil {
				if ferr := failed(err, &attempt); ferr != nil {
					return ferr
				}
				continue
			}
			offset = first
		}
		if fc == nil {
			cn, err := c.dialFetch(ctx, w.topic)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if ferr := failed(err, &attempt); ferr != nil {
					return ferr
				}
				continue
			}
			fc = cn
			stopWatch = context.AfterFunc(ctx, func() { cn.Close() })
		}
		start := time.Now()
		f, err := fc.fetch(w.topic, offset, lim, start.Add(fetchMaxWait+c.cfg.RequestTimeout))
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, kafkago.OffsetOutOfRange):
			first, end, lerr := c.offsets(ctx, w.topic)
			if lerr != nil {
				if ferr := failed(lerr, &attempt); ferr != nil {
					return ferr
				}
				continue
			}
			if offset < first {
				return fmt.Errorf("%w: kafka channel %q: offsets below %d were deleted while the scanner was at %d", walimpls.ErrOutOfRange, w.Channel().Name, first, offset)
			}
			if offset > end {
				// A start beyond the end: wait for the log to grow.
				if err := sleepCtx(ctx, fetchMaxWait/5); err != nil {
					return err
				}
			}
			continue
		default:
			if ferr := failed(err, &attempt); ferr != nil {
				return ferr
			}
			continue
		}
		failingSince, attempt = time.Time{}, 0
		// Decode the whole fetch, then emit: the consumer then drains a
		// run of messages per wake-up instead of sleeping between reads.
		var next int64
		pending, next, err = dec.decode(pending[:0], f.records, offset, f.aborted)
		for i, msg := range pending {
			if emitErr := emit(msg); emitErr != nil {
				return emitErr
			}
			pending[i] = nil
		}
		if err != nil {
			return err
		}
		if next == offset && time.Since(start) < fetchMaxWait/2 {
			// Answered at once with nothing to read: records past the
			// last stable offset wait for their transaction to end.
			if err := sleepCtx(ctx, fetchMaxWait/10); err != nil {
				return err
			}
		}
		offset = next
	}
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
