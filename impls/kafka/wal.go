package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// scan reads with Conn.ReadBatch from the partition leader, redialing
// after leader moves and broken connections. A start below the log start
// offset is ErrOutOfRange: Kafka would answer OFFSET_OUT_OF_RANGE and a
// Reader would silently jump, the scanner never does.
func (w *wal) scan(ctx context.Context, offset int64, emit helper.Emit) error {
	c := w.o.client
	var conn *kafkago.Conn
	var stopWatch func() bool
	closeConn := func() {
		if conn != nil {
			stopWatch()
			conn.Close()
			conn = nil
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
		if conn == nil {
			cn, err := c.dialLeader(ctx, w.topic)
			if err != nil {
				if ferr := failed(err, &attempt); ferr != nil {
					return ferr
				}
				continue
			}
			conn = cn
			stopWatch = context.AfterFunc(ctx, func() { cn.Close() })
		}
		if _, err := conn.Seek(offset, kafkago.SeekAbsolute|kafkago.SeekDontCheck); err != nil {
			if ferr := failed(err, &attempt); ferr != nil {
				return ferr
			}
			continue
		}
		conn.SetReadDeadline(time.Now().Add(fetchMaxWait + c.cfg.RequestTimeout))
		batch := conn.ReadBatchWith(kafkago.ReadBatchConfig{MinBytes: 1, MaxBytes: fetchMaxBytes, MaxWait: fetchMaxWait})
		// Decode the whole fetch, then emit: the consumer then drains a
		// run of messages per wake-up instead of sleeping between reads.
		pending = pending[:0]
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			if m.Offset < offset {
				continue
			}
			offset = m.Offset + 1
			if msg, ok := w.toMessage(m); ok {
				pending = append(pending, msg)
			}
		}
		err := batch.Close()
		for i, msg := range pending {
			if emitErr := emit(msg); emitErr != nil {
				return emitErr
			}
			pending[i] = nil
		}
		switch {
		case err == nil, errors.Is(err, io.EOF), errors.Is(err, kafkago.RequestTimedOut):
			failingSince, attempt = time.Time{}, 0
			continue
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
		}
		if ferr := failed(err, &attempt); ferr != nil {
			return ferr
		}
	}
}

// toMessage turns a record into a message; fence records are not messages.
func (w *wal) toMessage(m kafkago.Message) (message.ImmutableMessage, bool) {
	var props message.Properties
	if len(m.Headers) > 0 {
		props = make(message.Properties, len(m.Headers))
		for _, h := range m.Headers {
			if h.Key == fenceHeader {
				return nil, false
			}
			props[h.Key] = string(h.Value)
		}
	}
	payload := m.Value
	if payload == nil {
		payload = []byte{}
	}
	return message.NewImmutableMessage(helper.NewInt64ID(Name, m.Offset), w.Channel().Name, payload, props), true
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
