package helper

import (
	"context"
	"fmt"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// WALBase is what every WALImpls needs besides its storage: name, channel,
// the closed and read-only checks in the order the contract wants, and the
// set of scanners to end on Close. Embed it and call its checks first.
type WALBase struct {
	walName  string
	channel  walimpls.Channel
	maxSize  int
	scanners Lifetime
}

// NewWALBase returns the base of a WAL of walName on channel; maxSize is the
// driver's Capabilities.MaxMessageSize (0: no limit).
func NewWALBase(walName string, channel walimpls.Channel, maxSize int) *WALBase {
	return &WALBase{walName: walName, channel: channel, maxSize: maxSize}
}

// WALName is the driver's name.
func (b *WALBase) WALName() string { return b.walName }

// Channel is the channel as opened.
func (b *WALBase) Channel() walimpls.Channel { return b.channel }

// CheckAppend returns, in this order: ErrClosed, ErrReadOnly, ctx's error,
// ErrInvalidArgument for a nil message, ErrMessageTooLarge.
func (b *WALBase) CheckAppend(ctx context.Context, msg message.MutableMessage) error {
	if err := b.checkWrite(ctx, "append"); err != nil {
		return err
	}
	if msg == nil {
		return fmt.Errorf("%w: append of a nil message", walimpls.ErrInvalidArgument)
	}
	if size := msg.EstimateSize(); b.maxSize > 0 && size > b.maxSize {
		return fmt.Errorf("%w: %s channel %q: message of %d bytes, limit %d",
			walimpls.ErrMessageTooLarge, b.walName, b.channel.Name, size, b.maxSize)
	}
	return nil
}

// CheckTruncate returns ErrClosed, ErrReadOnly, ctx's error, or
// ErrInvalidArgument for a nil or foreign id.
func (b *WALBase) CheckTruncate(ctx context.Context, id message.MessageID) error {
	if err := b.checkWrite(ctx, "truncate"); err != nil {
		return err
	}
	if id == nil {
		return fmt.Errorf("%w: truncate to a nil MessageID", walimpls.ErrInvalidArgument)
	}
	if id.WALName() != b.walName {
		return fmt.Errorf("%w: truncate to a %s MessageID on a %s WAL", walimpls.ErrInvalidArgument, id.WALName(), b.walName)
	}
	return nil
}

func (b *WALBase) checkWrite(ctx context.Context, op string) error {
	if err := b.checkOpen(op); err != nil {
		return err
	}
	if b.channel.AccessMode == walimpls.ReadOnly {
		return fmt.Errorf("%w: %s on %s", walimpls.ErrReadOnly, op, b.describe(""))
	}
	return ctx.Err()
}

// CheckRead returns ErrClosed, ctx's error or the option's validation error.
func (b *WALBase) CheckRead(ctx context.Context, opt walimpls.ReadOption) error {
	if err := b.checkOpen("read"); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return opt.Validate(b.walName)
}

// StartScanner starts a helper Scanner for opt and tracks it, so Close ends
// it with ErrClosed. It fails with ErrClosed if the WAL closed meanwhile.
//
// The scanner's one goroutine untracks it when it ends (a second goroutine
// per scanner waiting for that was one per scanner too many with
// thousands of channels).
func (b *WALBase) StartScanner(opt walimpls.ReadOption, produce ProduceFunc) (*Scanner, error) {
	s := newScanner(opt.Name, opt.BufferSize())
	remove, err := b.scanners.Add(b.describe("read"), func() {
		s.Stop(fmt.Errorf("%w: %s", walimpls.ErrClosed, b.describe("scanner")))
	})
	if err != nil {
		s.cancel(err) // never started: nothing to wait for
		return nil, err
	}
	go s.run(produce, remove)
	return s, nil
}

// Close ends every scanner; it returns true only the first time, when the
// driver must release its own resources.
func (b *WALBase) Close() bool { return b.scanners.Close() }

// checkOpen is the hot path of every call: it formats a description only
// when the WAL is closed.
func (b *WALBase) checkOpen(op string) error {
	if !b.scanners.Closed() {
		return nil
	}
	return b.scanners.Check(b.describe(op))
}

func (b *WALBase) describe(op string) string {
	if op == "" {
		return fmt.Sprintf("%s channel %q", b.walName, b.channel.Name)
	}
	return fmt.Sprintf("%s %s channel %q", op, b.walName, b.channel.Name)
}
