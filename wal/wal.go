package wal

import (
	"context"

	"github.com/mqwal/mqwal/message"
)

// Opener opens WALs on one backend client. Safe for concurrent use.
type Opener interface {
	// Capabilities of the backend, fixed for the opener's life.
	Capabilities() Capabilities
	// Open validates opt (ErrInvalidArgument naming the field) and opens the
	// channel. Opening ReadWrite writes a fence record for opt's term before
	// Open returns. It honours ctx.
	Open(ctx context.Context, opt *OpenOption) (WAL, error)
	// Close closes every WAL still open (each as WAL.Close does), then the
	// backend client. Idempotent; later Opens return ErrClosed.
	Close()
}

// WAL is one channel opened for writing (ReadWrite) or reading (ReadOnly).
// Safe for concurrent use.
type WAL interface {
	// WALName is the backend name ("memory", "rmq", "kafka", "pulsar").
	WALName() string
	// Channel is the channel as opened.
	Channel() Channel

	// Append stores msg and returns once it is durable. Property keys that
	// start with message.ReservedPropertyPrefix are refused with
	// ErrInvalidArgument. It blocks while the WAL's in-flight bytes are at
	// their bound, until there is room or ctx ends. Errors wrap ErrClosed,
	// ErrReadOnly, ErrFenced, ErrMessageTooLarge, ErrInvalidArgument,
	// ErrUnavailable (retryable, nothing written), ErrOutcomeUnknown (maybe
	// written) or ctx's error.
	Append(ctx context.Context, msg message.MutableMessage) (*AppendResult, error)
	// AppendAsync appends msg in the background and calls cb exactly once
	// with Append's result, from another goroutine, or from the caller's when
	// msg is refused up front. It blocks like Append while the in-flight
	// bytes are at their bound. Close waits for pending async appends and
	// their callbacks, so cb must not block for long nor call Close.
	AppendAsync(ctx context.Context, msg message.MutableMessage, cb func(*AppendResult, error))

	// Read opens a scanner. A start below the retained range fails with
	// ErrOutOfRange, here or from the scanner's Error. The scanner lives
	// until it is closed, fails, or the WAL closes, not until ctx ends.
	Read(ctx context.Context, opt ReadOption) (Scanner, error)
	// Truncate allows the backend to discard every message up to and
	// including id.
	Truncate(ctx context.Context, id message.MessageID) error

	// Available is closed once the WAL stops accepting appends: Close began,
	// or the backend reported that a higher term fenced this writer.
	Available() <-chan struct{}
	// IsAvailable reports whether Available is still open.
	IsAvailable() bool

	// Close stops new work, waits for in-flight appends up to the opener's
	// close timeout (then cancels them), ends every scanner with ErrClosed,
	// and closes the driver. Idempotent and bounded in time.
	Close()
}

// Scanner delivers one channel's messages in ID order, each at most once and
// without a gap, until it is closed or fails. Transient backend errors are
// retried inside the scanner (it reopens after the last message it saw), so
// Error reports only what cannot be retried.
//
// A reconnect resumes after the last message the scanner read (delivered or
// filtered out). Before it has read any message it reopens with its
// original DeliverPolicy. DeliverLatest is pinned to StartAfter(newest ID)
// at Read when the driver reports that ID (walimpls.LatestIDReader; every
// built-in driver does), so such a reconnect skips nothing; with a driver
// that does not, messages appended between the first open and an early
// reconnect are not delivered.
//
// There is no separate drain: Close discards whatever the scanner holds
// ahead of its consumer. A consumer that needs every message up to a point
// reads Chan until it has seen that ID, then closes.
type Scanner interface {
	// Name is ReadOption.Name.
	Name() string
	// Chan delivers messages; it is closed when the scanner ends.
	Chan() <-chan message.ImmutableMessage
	// Error says why the scanner ended: nil while running and after Close,
	// an error wrapping ErrClosed when its WAL or opener closed, otherwise
	// the failure (e.g. ErrOutOfRange).
	Error() error
	// Done is closed when the scanner has ended and Chan is closed.
	Done() <-chan struct{}
	// Close stops the scanner and waits for it to end. Idempotent; it returns
	// nil unless the scanner had already failed, then that error.
	Close() error
}
