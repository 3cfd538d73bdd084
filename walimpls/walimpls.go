package walimpls

import (
	"context"

	"github.com/mqwal/mqwal/message"
)

// OpenerBuilderImpls is a driver's entry point, registered by name in
// walimpls/registry. It is static for the program and safe for concurrent use.
type OpenerBuilderImpls interface {
	// Name is the backend name users put in config: "memory", "rmq", "kafka",
	// "pulsar". It is also the WALName of every ID the driver makes.
	Name() string
	// Build creates the client. It does no I/O beyond connecting, and it
	// fails fast with ErrInvalidArgument on bad configuration.
	Build() (OpenerImpls, error)
}

// OpenerImpls owns one client or connection pool and every WAL opened
// through it. It is safe for concurrent use.
type OpenerImpls interface {
	// Capabilities are fixed for the opener's life.
	Capabilities() Capabilities
	// Open validates opt (ErrInvalidArgument) and opens the channel. With
	// Fencing, opening ReadWrite fences lower terms and fails with ErrFenced
	// if a higher term already opened the channel. It honours ctx.
	Open(ctx context.Context, opt *OpenOption) (WALImpls, error)
	// Close closes every WAL still open, then the client. Idempotent; later
	// calls to Open return ErrClosed.
	Close()
}

// ROWALImpls is the read side of one channel. Safe for concurrent use.
type ROWALImpls interface {
	// WALName is the driver's Name.
	WALName() string
	// Channel is the channel as opened.
	Channel() Channel
	// Read opens a scanner at opt.DeliverPolicy. A start below the retained
	// range gives ErrOutOfRange here or from the scanner's Error. It honours
	// ctx: a cancelled ctx returns its error. The scanner lives until it is
	// closed or the WAL closes, not until ctx ends.
	Read(ctx context.Context, opt ReadOption) (ScannerImpls, error)
	// Close ends every scanner of this WAL and releases the writer.
	// Idempotent and never hangs; later calls return ErrClosed.
	Close()
}

// WALImpls is the writer of one channel. Safe for concurrent use: concurrent
// Appends are stored in some order, each with its own ID.
type WALImpls interface {
	ROWALImpls
	// Append stores msg and returns its ID once it is durable. Errors:
	// ErrReadOnly, ErrClosed, ErrFenced, ErrMessageTooLarge (nothing written),
	// retryable ErrUnavailable (nothing written), ErrOutcomeUnknown (maybe
	// written, at most once). An error that does not wrap ErrOutcomeUnknown
	// means nothing was written: a bare ctx error only when the request never
	// left; once it may have, ctx's error is wrapped in ErrOutcomeUnknown.
	Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error)
	// Truncate allows discarding every message up to and including id.
	Truncate(ctx context.Context, id message.MessageID) error
}

// ScannerImpls delivers the messages of one channel in ID order, without a
// gap or a repeat, until it is closed or fails.
type ScannerImpls interface {
	// Name is ReadOption.Name.
	Name() string
	// Chan delivers messages; it is closed when the scanner ends.
	Chan() <-chan message.ImmutableMessage
	// Error says why the scanner ended: nil while running and after Close,
	// ErrClosed when its WAL or opener closed, otherwise the failure.
	Error() error
	// Done is closed when the scanner has ended and Chan is closed.
	Done() <-chan struct{}
	// Close stops the scanner and waits for it to end. Idempotent; it
	// returns nil unless the scanner had already failed, then that error.
	Close() error
}

// LatestIDReader is optionally implemented by a ROWALImpls that can tell
// the ID of the newest message ever appended to its channel, durable or
// truncated since. The adaptor resolves DeliverLatest through it into
// StartAfter(id) (DeliverAll for a channel never written), so a scanner that
// reconnects before it delivered anything resumes without a gap. Drivers
// without it keep DeliverLatest, and such a reconnect may miss messages
// appended during the outage.
type LatestIDReader interface {
	// LatestID returns the newest message's ID, or nil if the channel has
	// never been written. It honours ctx.
	LatestID(ctx context.Context) (message.MessageID, error)
}

// Claim records that Term took a channel over: every message stored after
// After (nil: from the channel's start) whose term is lower is a zombie's,
// and no scanner delivers it.
type Claim struct {
	Term  int64
	After message.MessageID
}

// ClaimReader is optionally implemented by a ROWALImpls whose backend may
// store a fenced writer's appends after a higher term opened the channel
// (a driver without Fencing, such as memory). The adaptor reads the claims
// when a scanner opens, so a scanner that starts after a fence record
// drops exactly the messages a scanner that read the fence record drops:
// every reader sees the same log.
//
// After must leave no lower-term message between After and the claiming
// term's first stored message (through the adaptor, its fence record): a
// scanner that opened before the claim learns of it only from that record,
// so a zombie message stored in between would be delivered by it and
// dropped by scanners opened later. The simple way, memory's, is to make
// the claim with the term's first append, in the same step, After the
// message before it; a claim made at Open with After the newest message
// then is wrong for a backend that keeps storing lower terms after Open.
//
// Claims come in After order (oldest first), at most one per term (the
// first). A driver may replace the claims whose After is below its
// retained range by the one among them with the highest term: they all
// apply to every retained message.
//
// A driver whose fencing is strict (no lower term's append is ever stored
// after a higher term's claim: rmq, kafka, pulsar) has nothing to report
// and need not implement it.
type ClaimReader interface {
	// Claims lists the channel's claims. It honours ctx.
	Claims(ctx context.Context) ([]Claim, error)
}
