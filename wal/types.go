package wal

import (
	"fmt"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// Channel names one log and who opens it (name, term, access mode). It is
// walimpls.Channel: the same rules apply (see Channel.Validate).
type Channel = walimpls.Channel

// AccessMode says whether a WAL may write.
type AccessMode = walimpls.AccessMode

// Access modes.
const (
	// ReadWrite opens the channel's writer for the channel's term. The
	// adaptor writes a fence record for the term, after which scanners drop
	// late messages of lower terms.
	ReadWrite = walimpls.ReadWrite
	// ReadOnly opens a reader: Append and Truncate return ErrReadOnly.
	ReadOnly = walimpls.ReadOnly
)

// Capabilities are what the backend promises beyond the common contract.
type Capabilities = walimpls.Capabilities

// DeliverPolicy is a scanner's start position; the zero value is DeliverAll.
type DeliverPolicy = walimpls.DeliverPolicy

// DeliverKind is the kind of a DeliverPolicy.
type DeliverKind = walimpls.DeliverKind

// Deliver policies.
var (
	// DeliverAll starts at the oldest retained message.
	DeliverAll = walimpls.DeliverAll
	// DeliverLatest delivers only messages appended after Read returned.
	DeliverLatest = walimpls.DeliverLatest
	// StartFrom starts at an ID, inclusive.
	StartFrom = walimpls.StartFrom
	// StartAfter starts right after an ID.
	StartAfter = walimpls.StartAfter
)

// Sentinel errors, the same values as walimpls' so errors.Is works whichever
// package the caller names. Every error returned by this package's
// implementations wraps one of them or a context error, and keeps the
// backend's cause in the chain.
var (
	ErrClosed          = walimpls.ErrClosed
	ErrReadOnly        = walimpls.ErrReadOnly
	ErrFenced          = walimpls.ErrFenced
	ErrOutOfRange      = walimpls.ErrOutOfRange
	ErrMessageTooLarge = walimpls.ErrMessageTooLarge
	ErrInvalidArgument = walimpls.ErrInvalidArgument
	ErrUnavailable     = walimpls.ErrUnavailable
	ErrUnknownBackend  = walimpls.ErrUnknownBackend
	ErrOutcomeUnknown  = walimpls.ErrOutcomeUnknown
	ErrNotFound        = walimpls.ErrNotFound
)

// IsRetryable reports whether err is transient and retrying cannot
// duplicate data (walimpls.IsRetryable).
func IsRetryable(err error) bool { return walimpls.IsRetryable(err) }

// OpenOption is what Opener.Open needs: the Channel to open, whose Term is
// the caller's ownership term (ReadWrite fences lower terms; see the package
// adaptor documentation). It is walimpls.OpenOption, Validate included.
type OpenOption = walimpls.OpenOption

// AppendResult is what a successful Append returns.
type AppendResult struct {
	// MessageID is the ID the backend assigned.
	MessageID message.MessageID
	// Term is the term the message was stamped with (the WAL's term).
	Term int64
	// Extra holds values interceptors attach, keyed by interceptor name.
	// Nil unless an interceptor set something.
	Extra map[string]any
}

// MessageFilter decides whether a scanner delivers msg. Filters of one
// scanner run one message at a time, in order, but not always on the same
// goroutine (a tailing scanner's messages may be filtered by the appender
// that stores them), so they must be quick, must not block, and must not
// call into the WAL.
type MessageFilter func(msg message.ImmutableMessage) bool

// FilterProperty delivers only messages that carry property key, with one of
// values if any are given.
func FilterProperty(key string, values ...string) MessageFilter {
	return func(msg message.ImmutableMessage) bool {
		v, ok := msg.Properties().Get(key)
		if !ok {
			return false
		}
		if len(values) == 0 {
			return true
		}
		for _, want := range values {
			if v == want {
				return true
			}
		}
		return false
	}
}

// FilterPredicate delivers only messages for which keep returns true. A nil
// keep delivers everything.
func FilterPredicate(keep func(message.ImmutableMessage) bool) MessageFilter {
	if keep == nil {
		return func(message.ImmutableMessage) bool { return true }
	}
	return MessageFilter(keep)
}

// DefaultReadAheadBufferSize is the scanner channel capacity when
// ReadOption.ReadAheadBufferSize is 0.
const DefaultReadAheadBufferSize = walimpls.DefaultReadAheadBufferSize

// ReadOption configures a scanner.
type ReadOption struct {
	// Name labels the scanner in logs and metrics.
	Name string
	// DeliverPolicy says where reading starts.
	DeliverPolicy DeliverPolicy
	// ReadAheadBufferSize bounds how many messages the scanner holds ahead of
	// its consumer; 0 means DefaultReadAheadBufferSize.
	ReadAheadBufferSize int
	// Filters all have to accept a message for it to be delivered. Messages
	// they drop still advance the scanner's position.
	Filters []MessageFilter
}

// Validate checks the option against the backend named walName.
func (o ReadOption) Validate(walName string) error {
	for i, f := range o.Filters {
		if f == nil {
			return fmt.Errorf("%w: ReadOption.Filters[%d] is nil", ErrInvalidArgument, i)
		}
	}
	return o.Impls().Validate(walName)
}

// Impls is the driver-level part of the option.
func (o ReadOption) Impls() walimpls.ReadOption {
	return walimpls.ReadOption{Name: o.Name, DeliverPolicy: o.DeliverPolicy, ReadAheadBufferSize: o.ReadAheadBufferSize}
}
