package adaptor

import (
	"log/slog"
	"time"

	"github.com/mqwal/mqwal/adaptor/interceptors"
)

// Defaults of the options below.
const (
	DefaultMaxInFlightBytes    = 64 << 20
	DefaultCloseTimeout        = 10 * time.Second
	DefaultWriteAheadCache     = 64 << 20 // per opener, shared by its WALs
	DefaultScannerBackoffStart = 10 * time.Millisecond
	DefaultScannerBackoffMax   = 2 * time.Second
)

// Option configures an opener, given to NewOpenerBuilder, to
// OpenerBuilder.Build, or to NewOpener; later options override earlier.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	logger           *slog.Logger
	hooks            hooks
	interceptors     []interceptors.Builder
	maxMessageSize   int
	maxInFlightBytes int64
	closeTimeout     time.Duration
	cacheBytes       int // -1: automatic (see cacheSize)
	backoffStart     time.Duration
	backoffMax       time.Duration
	idleRecheck      time.Duration // cacheIdleRecheck; tests shorten it
}

func newOptions(opts []Option) options {
	o := options{
		logger:           discardLogger,
		maxInFlightBytes: DefaultMaxInFlightBytes,
		closeTimeout:     DefaultCloseTimeout,
		cacheBytes:       -1,
		backoffStart:     DefaultScannerBackoffStart,
		backoffMax:       DefaultScannerBackoffMax,
		idleRecheck:      cacheIdleRecheck,
	}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	return o
}

// discardLogger is the default: a library logs only when asked to.
var discardLogger = slog.New(slog.DiscardHandler)

// withAttrs is l.With(attrs), except for the default logger, which stays
// as it is: a logger per WAL and scanner would cost an allocation each
// for nothing.
func withAttrs(l *slog.Logger, attrs ...slog.Attr) *slog.Logger {
	if l.Handler() == slog.DiscardHandler {
		return l
	}
	args := make([]any, len(attrs))
	for i, a := range attrs {
		args[i] = a
	}
	return l.With(args...)
}

// WithLogger sets the logger for lifecycle events (open, close, fence,
// scanner reconnects, errors) and, when it is enabled at warn level,
// installs the interceptors.Logging interceptor (failed appends). Nothing is
// logged per message above debug level. Default (and nil): nothing is
// logged, not even to slog.Default, so embedding mqwal never writes to a
// service's logs uninvited; pass slog.Default() to log there.
//
// For zap, wrap its core: slog.New(zapslog.NewHandler(zapLogger.Core()))
// with go.uber.org/zap/exp/zapslog (see the example of WithLogger).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) {
		if l == nil {
			l = discardLogger
		}
		o.logger = l
	})
}

// WithHooks installs hooks (see Hook) on every WAL of the opener, in
// addition to those given before. nil hooks are skipped.
func WithHooks(hs ...Hook) Option {
	return optionFunc(func(o *options) {
		for _, h := range hs {
			if h != nil {
				o.hooks.add(h)
			}
		}
	})
}

// WithInterceptors adds interceptors, outermost first, around every Append
// of every WAL (after the built-in Logging, before the built-in SizeLimit
// and Fence, which run closest to the driver). To observe rather than
// change appends, use WithHooks.
func WithInterceptors(b ...interceptors.Builder) Option {
	return optionFunc(func(o *options) {
		for _, x := range b {
			if x != nil {
				o.interceptors = append(o.interceptors, x)
			}
		}
	})
}

// WithMaxMessageSize limits application messages (payload plus properties)
// to n bytes; n <= 0 uses the backend's limit net of
// interceptors.ReservedOverhead. A limit above that is still refused by the
// driver.
func WithMaxMessageSize(n int) Option {
	return optionFunc(func(o *options) { o.maxMessageSize = n })
}

// WithMaxInFlightBytes bounds the bytes of appends in flight per WAL: a full
// pipe blocks Append and AppendAsync until there is room or ctx ends. n <= 0
// removes the bound. Default DefaultMaxInFlightBytes.
func WithMaxInFlightBytes(n int64) Option {
	return optionFunc(func(o *options) { o.maxInFlightBytes = n })
}

// WithCloseTimeout bounds how long WAL.Close waits for in-flight appends
// before cancelling them, and then how long it waits for the cancelled ones
// and their AppendAsync callbacks before it gives up on them with a
// warning: Close returns within about twice d, even if a callback never
// returns. Default DefaultCloseTimeout.
func WithCloseTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.closeTimeout = max(d, 0) })
}

// WithWriteAheadCache sets the opener's write-ahead cache budget: at most
// maxBytes (message bytes plus 512 bytes per entry) for all its WALs
// together; 0 disables the cache. By default the cache is on
// (DefaultWriteAheadCache, 64 MiB per opener) for backends that declare
// both ExclusiveLog and Fencing (rmq) and off for the others.
//
// The cache feeds a WAL's caught-up scanners its own appends, so it is
// never used for a backend whose channels other clients can write to: a
// record stored between two of the WAL's appends would be skipped. Only a
// driver that declares Capabilities.ExclusiveLog (rmq, memory) gets a
// cache, even when asked for one here; for Kafka, Pulsar and any driver
// that does not declare it, maxBytes is ignored and every scanner reads
// the backend. There the cache had nothing to win: on Kafka a tailing
// driver scanner delivers a message as soon as Append returns (lag ratio
// 1.00 with and without it, BenchmarkTailRatio).
//
// A ReadWrite WAL caches its appends only while it has an open scanner, so
// a WAL nobody reads through this opener costs nothing. When the WALs hold
// more than the budget together, the oldest entries are evicted, whichever
// WAL they belong to. A scanner whose next entry was evicted reads the
// backend again from after the last message it read, so eviction never
// shows a gap or a duplicate; it only costs a backend read. A scanner that
// tails the cache keeps its driver scanner open and unread, so going back
// to the backend costs no reconnect, unless the cache has delivered more
// than 8 messages since (then the driver scanner, which holds what it read
// ahead meanwhile, is closed, and reopened when needed).
//
// Other writers of the same channel through mqwal are the remaining case.
// For a lower term's (zombie's) message nothing changes: read-side fencing
// drops it anyway. It matters when this WAL is itself the zombie: a higher
// term opened the channel elsewhere. A fencing backend tells it (its next
// Append fails with ErrFenced, and the WAL drops its cache and goes
// unavailable, so its scanners return to the backend); a backend without
// Fencing (memory) cannot, and the zombie's scanners would show its own
// late appends and miss the new owner's. So enable the cache on a backend
// without Fencing only if a superseded writer is closed before the new one
// opens (or its scanners do not matter). A scanner that finds the cache
// unchanged for a second reads the backend again, so a zombie that appends
// nothing still sees the new owner's messages.
func WithWriteAheadCache(maxBytes int) Option {
	return optionFunc(func(o *options) { o.cacheBytes = max(maxBytes, 0) })
}

// WithScannerBackoff sets the capped exponential backoff (with jitter) of
// scanners reconnecting after a retryable error.
func WithScannerBackoff(start, maxDelay time.Duration) Option {
	return optionFunc(func(o *options) {
		if start > 0 {
			o.backoffStart = start
		}
		if maxDelay >= o.backoffStart {
			o.backoffMax = maxDelay
		}
	})
}
