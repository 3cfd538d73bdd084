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
	for _, k := range [...]string{SeqProperty, TermProperty} {
		if _, bad := msg.Properties()[k]; bad {
			// It would forge the driver's own bookkeeping; the adaptor's
			// reserved properties use other keys and pass through.
			return nil, fmt.Errorf("%w: property %q is reserved for the pulsar driver", walimpls.ErrInvalidArgument, k)
		}
	}
	if wire := wireSize(msg); wire > w.o.cfg.maxMessageSize {
		return nil, fmt.Errorf("%w: pulsar channel %q: message of %d bytes on the wire (payload, properties and metadata), broker limit %d",
			walimpls.ErrMessageTooLarge, w.Channel().Name, wire, w.o.cfg.maxMessageSize)
	}
	return w.w.append(ctx, msg)
}

// wireSize estimates the bytes of a SEND's metadata and payload: properties
// cost their bytes plus protobuf framing.
func wireSize(msg message.MutableMessage) int {
	n := len(msg.Payload()) + 128 + len(SeqProperty) + len(TermProperty) + 48
	for k, v := range msg.Properties() {
		n += len(k) + len(v) + 8
	}
	return n
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
