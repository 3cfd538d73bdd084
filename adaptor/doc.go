// Package adaptor turns any walimpls driver into the wal interfaces
// applications use. It adds, on top of the driver:
//
//   - lifetime: an opener tracks its WALs, a WAL its scanners and in-flight
//     appends; Close stops new work, waits for in-flight appends up to a
//     deadline (then cancels them), ends scanners, and closes the driver,
//     once; afterwards every call returns ErrClosed;
//   - an interceptor chain around Append (package interceptors): the
//     application's interceptors, then term stamping with read-side
//     fencing and a size limit; flow control bounds the bytes in flight per
//     WAL before the chain runs;
//   - hooks (WithHooks): metrics and tracing see append, delivery,
//     truncate and scanner events without the adaptor importing any
//     metrics library (adaptor/prommetrics is the Prometheus one); logging
//     goes through a *slog.Logger (WithLogger), silent by default;
//   - resilient scanners: a retryable driver scanner error reopens the
//     driver scanner after the last message seen, with capped exponential
//     backoff and jitter, and drops anything at or below that message;
//   - a write-ahead cache: a window of each read WAL's newest appends,
//     from which caught-up scanners are fed without reading the backend,
//     bounded by one byte budget per opener (WithWriteAheadCache), for
//     drivers whose channels nothing else writes to
//     (walimpls.Capabilities.ExclusiveLog).
//
// The cache window is contiguous: it holds messages only in ID order and
// never with a hole between two of them. Concurrent appends complete out of
// order, so a completed append is published only once every append that
// started before it completed has completed too (an append that starts after
// another completed gets a higher ID, by the driver contract); and an append
// whose outcome is unknown (it may be stored, it is not cached) empties the
// window. A scanner switches to the cache only when the last message it read
// from the backend is in the window, and back to the backend (StartAfter the
// last message) when the window has moved past it; so neither switch shows a
// gap or a duplicate. A scanner that has caught up with the window parks on
// it, and the appender that publishes an entry hands it to the scanner's
// channel directly (when there is room), so a tailing reader gets a message
// without waking an extra goroutine. Contiguous means no hole among the
// WAL's own appends; that nothing else lies between two of them in the
// backend is what ExclusiveLog promises, which is why the cache is used
// only with it. See WithWriteAheadCache for the single-writer rule.
//
// Drivers never import this package, and it imports no driver.
package adaptor
