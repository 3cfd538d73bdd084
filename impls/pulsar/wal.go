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

// Truncate moves the channel's durable subscription up to id: the broker
// may then delete what lies before id, when its ledger is closed and the
// retention policy lets it go; reads below keep working until then
// (PhysicalTruncate is false). id itself is kept: a scanner resumes with
// StartAfter(id) by reading id first, and the channel's last message is
// what a new writer continues from. So the acknowledgement is the entry
// before id (nothing, when id starts a ledger: the entry before it is in
// an earlier ledger, at a position the driver does not know; a later
// Truncate releases it).
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
		if pid.Entry == 0 {
			return nil
		}
		c, err := subscribeTruncation(w.o, w.topic)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.AckIDCumulative(NewID(pid.Ledger, pid.Entry-1, 0).client())
	})
}

// subscribeTruncation attaches to the channel's durable truncation
// subscription, creating it at the earliest position if it is new. A
// durable subscription is what makes a broker keep messages: without one
// every closed ledger counts as consumed and is deleted (retention 0 by
// default). Its only ack (Truncate's cumulative ack, with a response)
// bypasses the client's ack tracker; MaxSize 1 picks the immediate tracker,
// so the consumer does not start the default grouping tracker's 100 ms
// flush ticker goroutine for nothing. (It lives only through an Open or a
// Truncate, so idle channels never had that ticker; their scanners' Readers
// do, and ReaderOptions cannot set AckGroupingOptions.)
func subscribeTruncation(o *opener, topic string) (pc.Consumer, error) {
	return o.client.Subscribe(pc.ConsumerOptions{
		Topic:                       topic,
		SubscriptionName:            o.cfg.subscription,
		Type:                        pc.Exclusive,
		SubscriptionInitialPosition: pc.SubscriptionPositionEarliest,
		ReceiverQueueSize:           1,
		AckWithResponse:             true,
		AckGroupingOptions:          &pc.AckGroupingOptions{MaxSize: 1},
	})
}

// runCtx is runCtx on the channel's topic.
func (w *wal) runCtx(ctx context.Context, op string, f func() error) error {
	return runCtx(ctx, op, w.topic, f)
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
