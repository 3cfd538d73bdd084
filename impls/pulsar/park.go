package pulsar

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
)

// A tailing scanner that has received nothing for the config's parkAfter
// (WithScannerParkAfter) parks: it closes its Reader and waits on a
// non-durable Consumer instead, until a message after the last one it saw
// is stored; then it reopens its Reader there and reads on as before.
//
// Why: pulsar-client-go v0.19.0 gives every Reader an ack-grouping tracker
// with a 100 ms ticker that ReaderOptions cannot turn off (it is a consumer
// option), so 1,000 idle tailing Readers cost ~10 % of a core, client and
// broker together; 1,000 idle Consumers with immediate acks cost 0.04 %.
// A Consumer is not used to read: across a reconnect with an empty queue it
// resubscribes at the position it started from, not after what it
// delivered (only a Reader moves that position), so every message it gets
// is only a wake-up. Whatever it misses, the Reader reopened at the last
// position delivers, with every check of scanState.
//
// The Consumer starts after the last position seen (Seek), so a message
// stored while the Reader was being closed wakes it, and so does one stored
// while its connection was down (it resubscribes at that position).
// The config's parkRecheck bounds what is left: if a wake-up is still lost
// (a broker that resets the position), the scanner asks for the topic's
// last position that often and wakes itself.

// errIdle is what nextOrIdle returns when the scanner should park.
var errIdle = errors.New("pulsar: scanner idle")

// idleWatch cancels its context once after passes without a call to
// touch: the Reader's Next then returns, and the scanner parks.
type idleWatch struct {
	after  time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
}

func newIdleWatch(ctx context.Context, after time.Duration) *idleWatch {
	w := &idleWatch{after: after}
	w.ctx, w.cancel = context.WithCancel(ctx)
	w.timer = time.AfterFunc(after, w.cancel)
	return w
}

// touch restarts the idle period. After the period has passed, the context
// stays done: the scanner parks on its next wait, which costs a detour, not
// a message.
func (w *idleWatch) touch() { w.timer.Reset(w.after) }

func (w *idleWatch) stop() {
	w.timer.Stop()
	w.cancel()
}

// parkable reports whether the scanner knows what "after" means: the last
// position it saw, or, reading from the earliest, anything at all. A
// scanner whose start position is not stored yet keeps its Reader.
func (st *scanState) parkable() bool { return st.hasLast || st.fromEarliest }

// nextOrIdle is the Reader's next message, or errIdle when the scanner
// could park and nothing arrived for the config's parkAfter.
func (st *scanState) nextOrIdle(ctx context.Context) (pc.Message, error) {
	after := st.w.o.cfg.parkAfter
	if after <= 0 || !st.parkable() {
		return st.reader.Next(ctx)
	}
	if st.idle == nil {
		st.idle = newIdleWatch(ctx, after)
	}
	m, err := st.reader.Next(st.idle.ctx)
	switch {
	case err == nil:
		st.idle.touch()
		return m, nil
	case ctx.Err() == nil && st.idle.ctx.Err() != nil:
		st.idle.stop()
		st.idle = nil
		return nil, errIdle
	}
	return nil, err
}

// park closes the Reader, waits until a message after the last position
// seen is stored (or ctx ends), then reopens the Reader at that position.
func (st *scanState) park(ctx context.Context) error {
	closeReader(st.reader)
	st.reader = closedReader{}
	st.w.o.parks.Add(1)
	if h := st.w.o.cfg.beforePark; h != nil {
		h()
	}
	if err := st.waitForMore(ctx); err != nil {
		return err
	}
	return st.reopen(ctx, 0)
}

// waitForMore returns once a message after the last position seen is
// stored, or with ctx's error. A Consumer that cannot be created (the
// broker is down) is retried, as a Reader's reconnect would be: the
// scanner waits either way.
func (st *scanState) waitForMore(ctx context.Context) error {
	b := newReconnectBackoff()
	for {
		c, err := st.subscribeAfterLast()
		if err == nil {
			err = st.waitOn(ctx, c)
			closeConsumer(c)
			if err == nil || ctx.Err() != nil {
				return ctx.Err()
			}
		}
		select {
		case <-time.After(b.Next()):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// subscribeAfterLast creates the wake-up Consumer: non-durable, exclusive,
// immediate acks (no ticker), one message of prefetch, positioned after
// the last message seen (or at the earliest when there is none).
func (st *scanState) subscribeAfterLast() (pc.Consumer, error) {
	var tag [8]byte
	_, _ = rand.Read(tag[:])
	opts := pc.ConsumerOptions{
		Topic:                       st.w.topic,
		SubscriptionName:            "mqwal-park-" + hex.EncodeToString(tag[:]),
		Type:                        pc.Exclusive,
		SubscriptionMode:            pc.NonDurable,
		SubscriptionInitialPosition: pc.SubscriptionPositionEarliest,
		ReceiverQueueSize:           1,
		AckGroupingOptions:          &pc.AckGroupingOptions{MaxSize: 1},
		NackRedeliveryDelay:         time.Hour,
		AutoDiscoveryPeriod:         time.Hour,
	}
	c, err := st.w.o.client.Subscribe(opts)
	if err != nil {
		return nil, err
	}
	if st.hasLast {
		if err := c.Seek(st.last.client()); err != nil {
			closeConsumer(c)
			return nil, err
		}
	}
	return c, nil
}

// waitOn returns nil once c delivers a message after the last position
// seen, or the topic's last position (asked every parkRecheck) is after
// it; an error when c fails or ctx ends.
func (st *scanState) waitOn(ctx context.Context, c pc.Consumer) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, st.w.o.cfg.parkRecheck)
		m, err := c.Receive(rctx)
		cancel()
		switch {
		case err == nil:
			if st.isNew(idOf(m.ID())) {
				return nil
			}
			continue // at or before the last position: a repeat
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded):
			return err
		}
		ids, err := c.GetLastMessageIDs()
		if err != nil {
			return err
		}
		for _, id := range ids {
			if last := idOf(id); last.valid() && st.isNew(last) {
				return nil
			}
		}
	}
}

// isNew reports whether a message at pos comes after everything the
// scanner saw. Entries compare without their batch index: the broker's
// last position names a batch's last message, and a scanner that saw any
// message of an entry was handed all of it.
func (st *scanState) isNew(pos ID) bool {
	if !st.hasLast {
		return true
	}
	return pos.Ledger > st.last.Ledger || (pos.Ledger == st.last.Ledger && pos.Entry > st.last.Entry)
}

// closeConsumer closes c while taking what it still delivers (see
// closeReader for why).
func closeConsumer(c pc.Consumer) {
	closeDraining(func(ctx context.Context) error { _, err := c.Receive(ctx); return err }, c.Close)
}
