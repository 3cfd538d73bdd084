package walimpls

import (
	"errors"

	"github.com/mqwal/mqwal/message"
)

// Sentinel errors. Drivers wrap them (fmt.Errorf("%w: ...: %w", ErrX, cause))
// so callers test with errors.Is and still see the backend's cause.
var (
	// ErrClosed: the opener, WAL or scanner was closed.
	ErrClosed = errors.New("closed")
	// ErrReadOnly: Append or Truncate on a WAL opened ReadOnly.
	ErrReadOnly = errors.New("wal is read-only")
	// ErrFenced: a writer with a higher term owns the channel now.
	ErrFenced = errors.New("fenced by a higher term")
	// ErrOutOfRange: a read starts below the retained range (truncated).
	ErrOutOfRange = errors.New("position out of retained range")
	// ErrMessageTooLarge: the message exceeds the backend's limit; nothing was written.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrInvalidArgument: bad input; the message names the field. It is the
	// same value as message.ErrInvalidArgument.
	ErrInvalidArgument = message.ErrInvalidArgument
	// ErrUnavailable: the backend could not be reached or refused for now.
	// Retryable.
	ErrUnavailable = errors.New("backend unavailable")
	// ErrNotFound: a ReadOnly open of a channel that does not exist. A
	// ReadOnly open never creates a channel.
	ErrNotFound = errors.New("no such channel")
	// ErrUnknownBackend: no driver registered under the requested name.
	ErrUnknownBackend = errors.New("unknown backend")
	// ErrOutcomeUnknown: an append failed in a way that leaves open whether
	// the message was stored (a timeout after sending). Retrying may store it
	// twice, so it is not retryable by IsRetryable.
	ErrOutcomeUnknown = errors.New("append outcome unknown")
)

// IsRetryable reports whether err is transient: the same call may succeed
// later and retrying cannot duplicate data. ErrUnavailable is retryable, as
// is any error in the chain with a Retryable() bool method returning true.
// ErrOutcomeUnknown, ErrFenced and ErrClosed never are.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrFenced) || errors.Is(err, ErrClosed) {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}
