package interceptors

import (
	"context"
	"log/slog"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// Param describes the WAL an interceptor is built for.
type Param struct {
	// WALName is the backend name.
	WALName string
	// Channel is the channel as opened (name, term, access mode).
	Channel wal.Channel
	// Capabilities as the application sees them: the backend's, with
	// MaxMessageSize net of ReservedOverhead.
	Capabilities wal.Capabilities
	// Logger is the adaptor's logger, named for the WAL; never nil.
	Logger *slog.Logger
}

// AppendFunc is the rest of the append chain.
type AppendFunc func(ctx context.Context, msg message.MutableMessage) (*wal.AppendResult, error)

// Builder makes one Interceptor per WAL. It is called when the WAL opens.
type Builder interface {
	Build(p Param) Interceptor
}

// BuilderFunc adapts a func to a Builder.
type BuilderFunc func(p Param) Interceptor

// Build calls f.
func (f BuilderFunc) Build(p Param) Interceptor { return f(p) }

// Interceptor is one WAL's instance. Close runs once, after the WAL's driver
// is closed. An Interceptor implements any of the interfaces below; one that
// implements none is allowed and does nothing.
type Interceptor interface {
	Close()
}

// AppendInterceptor wraps every Append (and AppendAsync) of its WAL. It
// calls next at most once and returns what it returns, or fails without
// calling it. It must not modify msg: WithProperty returns a copy.
type AppendInterceptor interface {
	Interceptor
	DoAppend(ctx context.Context, msg message.MutableMessage, next AppendFunc) (*wal.AppendResult, error)
}

// OpenInterceptor runs when a ReadWrite WAL opens, before Open returns, in
// chain order. appendFn is the whole append chain (all interceptors, then
// the driver), without the reserved-property check, so an interceptor can
// write records with reserved properties (Fence writes its fence record).
// An error fails Open.
type OpenInterceptor interface {
	Interceptor
	OnOpen(ctx context.Context, appendFn AppendFunc) error
}

// ReadInterceptor sees every message a scanner of its WAL reads, before the
// scanner's own filters. Hooks run in the reverse of the append order:
// messages come from the driver, so the interceptor closest to it (Fence)
// judges them first, and a message one hook drops is not shown to the next.
type ReadInterceptor interface {
	Interceptor
	// NewReadHook is called once per scanner. The hook keeps its state
	// across the scanner's reconnects.
	NewReadHook(opt wal.ReadOption) ReadHook
}

// ReadHook is one scanner's view of a ReadInterceptor. Deliver is called for
// each message in ID order, each once, never concurrently; it returns false
// to drop the message. Calls may come from the scanner's goroutine or, for
// a scanner tailing the write-ahead cache, from the appender that stores
// the message, so Deliver must be quick and must not block.
type ReadHook interface {
	Deliver(msg message.ImmutableMessage) bool
}

// ReadHookFunc adapts a func to a ReadHook.
type ReadHookFunc func(msg message.ImmutableMessage) bool

// Deliver calls f.
func (f ReadHookFunc) Deliver(msg message.ImmutableMessage) bool { return f(msg) }

// Nop is an Interceptor that does nothing; embed it to get Close.
type Nop struct{}

// Close does nothing.
func (Nop) Close() {}
