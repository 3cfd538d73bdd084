package adaptor

import (
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// Hook is any value that implements one or more of the Hook* interfaces
// below; WithHooks installs it on an opener and the adaptor calls each
// method it implements when that event happens, for every WAL of the
// opener. A value that implements none is accepted and never called.
//
// Hooks are how metrics leave the core, the way franz-go keeps kprom
// outside kgo: package adaptor/prommetrics implements them for
// Prometheus, and only programs that import it link client_golang.
//
// Rules for every hook method:
//   - it must be quick and must not block: it runs on the caller's
//     goroutine (Append's, a scanner's, or for a scanner tailing the
//     write-ahead cache, the appender that delivers to it, under a lock),
//     so a slow hook slows appends or readers;
//   - it must not call back into the WAL or opener it is told about;
//   - it may be called concurrently, for one WAL as for many;
//   - for one WAL, HookWALOpened comes before every other event and
//     HookWALClosed after every other, except an append that Close gave
//     up waiting for (see WithCloseTimeout).
type Hook any

// WALInfo names the WAL an event is about. One WAL's events all carry the
// same WALInfo; two WALs of one channel (say a ReadWrite and a ReadOnly
// one) carry equal Backend and Channel.Name.
type WALInfo struct {
	// Backend is the driver's name ("rmq", "kafka", ...).
	Backend string
	// Channel is the channel as opened: name, term, access mode.
	Channel wal.Channel
}

// HookWALOpened is told of each WAL Open returned.
type HookWALOpened interface {
	OnWALOpened(w WALInfo)
}

// HookWALClosed is told of each WAL once its Close finished.
type HookWALClosed interface {
	OnWALClosed(w WALInfo)
}

// HookAppended is told of each Append and AppendAsync the application made
// on an open WAL, once it ended (for AppendAsync: before its callback
// runs). The adaptor's own records (the fence record written at Open) are
// not reported.
type HookAppended interface {
	OnAppended(w WALInfo, e AppendEvent)
}

// AppendEvent is one append.
type AppendEvent struct {
	// Bytes is the message's payload plus properties, as the application
	// gave it (message.MutableMessage.EstimateSize).
	Bytes int
	// Duration is from the call to its result, waiting for flow control
	// (WithMaxInFlightBytes) included.
	Duration time.Duration
	// ID is the stored message's ID; nil when Err is set.
	ID message.MessageID
	// Err is why the append failed; nil when it was acknowledged.
	Err error
}

// HookTruncated is told of each Truncate on an open WAL, once it ended.
type HookTruncated interface {
	OnTruncated(w WALInfo, e TruncateEvent)
}

// TruncateEvent is one Truncate.
type TruncateEvent struct {
	// Through is the ID truncated through, as given.
	Through  message.MessageID
	Duration time.Duration
	Err      error
}

// HookDelivered is told of each message a scanner hands to the
// application: after fencing and the scanner's filters, when it is put on
// the scanner's channel (fence records and filtered messages are not
// reported).
type HookDelivered interface {
	OnDelivered(w WALInfo, e DeliverEvent)
}

// DeliverEvent is one delivered message.
type DeliverEvent struct {
	// Scanner is the scanner's name (ReadOption.Name).
	Scanner string
	// Bytes is the message's payload plus properties, as delivered (with
	// the term property the adaptor stamps).
	Bytes int
	// FromCache says the message came from the write-ahead cache, not the
	// backend.
	FromCache bool
}

// HookScannerOpened is told of each scanner Read returned.
type HookScannerOpened interface {
	OnScannerOpened(w WALInfo, scanner string)
}

// HookScannerClosed is told of each scanner once it ended: closed by the
// application (Err nil), by its WAL or opener closing (ErrClosed), or
// failed.
type HookScannerClosed interface {
	OnScannerClosed(w WALInfo, e ScannerClosedEvent)
}

// ScannerClosedEvent is the end of one scanner.
type ScannerClosedEvent struct {
	Scanner string
	// Err is the scanner's Error().
	Err error
}

// HookScannerReconnected is told of each attempt of a scanner to reopen
// its driver scanner after a retryable error, before the backoff sleep.
type HookScannerReconnected interface {
	OnScannerReconnected(w WALInfo, e ReconnectEvent)
}

// ReconnectEvent is one reconnect attempt.
type ReconnectEvent struct {
	Scanner string
	// Attempt counts from 1 for each error that ended the driver scanner.
	Attempt int
	// Backoff is how long the scanner waits (about: it is jittered)
	// before it reopens.
	Backoff time.Duration
	// Cause is the error that ended the driver scanner or failed the last
	// reopen.
	Cause error
}

// hooks are an opener's hooks, sorted by the events they take, so an
// event nobody listens to costs a length check.
type hooks struct {
	walOpened          []HookWALOpened
	walClosed          []HookWALClosed
	appended           []HookAppended
	truncated          []HookTruncated
	delivered          []HookDelivered
	scannerOpened      []HookScannerOpened
	scannerClosed      []HookScannerClosed
	scannerReconnected []HookScannerReconnected
}

func (h *hooks) add(x Hook) {
	addIf(&h.walOpened, x)
	addIf(&h.walClosed, x)
	addIf(&h.appended, x)
	addIf(&h.truncated, x)
	addIf(&h.delivered, x)
	addIf(&h.scannerOpened, x)
	addIf(&h.scannerClosed, x)
	addIf(&h.scannerReconnected, x)
}

// addIf appends x to dst if it implements dst's kind of hook.
func addIf[H any](dst *[]H, x Hook) {
	if v, ok := x.(H); ok {
		*dst = append(*dst, v)
	}
}
