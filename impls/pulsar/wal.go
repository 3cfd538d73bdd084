package pulsar

import (
	"context"
	"fmt"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// wal is one channel: a topic, a lazily acquired exclusive producer (nil
// for ReadOnly) and the scanners helper.WALBase tracks.
type wal struct {
	*helper.WALBase
	o                *opener
	topic            string
	w                *writer
	removeFromOpener func()
}

func (w *wal) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	if err := w.CheckAppend(ctx, msg); err != nil {
		return nil, err
	}
	p, err := w.w.fill(msg)
	if err != nil {
		return nil, err
	}
	return w.w.append(ctx, p)
}

// Truncate records id as the cumulative acknowledgement of the channel's
// durable subscription. Pulsar's retention policy decides when the data goes;
// reads below id keep working until then (PhysicalTruncate is false).
func (w *wal) Truncate(ctx context.Context, id message.MessageID) error {
	if err := w.CheckTruncate(ctx, id); err != nil {
		return err
	}
	pid, ok := id.(ID)
	if !ok || !pid.valid() {
		return fmt.Errorf("%w: truncate to %v: not a pulsar message position", walimpls.ErrInvalidArgument, id)
	}
	return w.runCtx(ctx, "truncate", func() error {
		last, nonEmpty, err := lastPosition(w.o, w.topic)
		if err != nil {
			return err
		}
		if !nonEmpty || last.cmp(pid) < 0 {
			return fmt.Errorf("%w: truncate to %v, beyond the last message of channel %q", walimpls.ErrInvalidArgument, id, w.Channel().Name)
		}
		c, err := w.o.client.Subscribe(pc.ConsumerOptions{
			Topic:                       w.topic,
			SubscriptionName:            w.o.cfg.subscription,
			Type:                        pc.Exclusive,
			SubscriptionInitialPosition: pc.SubscriptionPositionEarliest,
			ReceiverQueueSize:           1,
			AckWithResponse:             true,
		})
		if err != nil {
			return err
		}
		defer c.Close()
		return c.AckIDCumulative(pid.client())
	})
}

// runCtx runs a blocking client call, returning early if ctx ends; the call
// itself is bounded by the client's operation timeout.
func (w *wal) runCtx(ctx context.Context, op string, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return classify(op, w.topic, err)
	case <-ctx.Done():
		return fmt.Errorf("pulsar: %s %s: %w", op, w.topic, ctx.Err())
	}
}

func (w *wal) Close() {
	if !w.WALBase.Close() {
		return
	}
	if w.w != nil {
		w.w.close()
	}
	if w.removeFromOpener != nil {
		w.removeFromOpener()
	}
}
