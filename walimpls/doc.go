// Package walimpls is the contract between mqwal and a message system. A
// driver implements four small interfaces, one per lifetime:
//
//	OpenerBuilderImpls  static for the program; registered by name
//	  └ OpenerImpls      one client / connection pool
//	      └ WALImpls      one writer (or reader, ReadOnly) of one channel
//	          └ ScannerImpls  one reader of that channel
//
// Closing an outer object closes everything inside it. The adaptor package
// turns any driver into the full wal.WAL an application uses (interceptors,
// resilient scanners, caching); a driver only has to keep the rules below,
// and the conformance harness in walimplstest checks every one of them.
//
// Rules every driver keeps:
//
//   - IDs of one channel are strictly increasing in append order; LT, LTE and
//     EQ agree with scan order; Marshal round-trips through
//     message.UnmarshalMessageID(walName, s).
//   - Append returns only once the message is durable (acked by the broker,
//     synced to disk by default). Every acked message is read back exactly
//     once, byte-identical payload and properties, in ID order. A driver never
//     retries internally in a way that can store a message twice.
//   - Every Append error has one of two meanings, by construction. An error
//     that wraps ErrOutcomeUnknown means "may be stored": the message is then
//     read at most once, never twice. Any other error means "not stored", and
//     the message is never read: retryable ErrUnavailable, ErrFenced,
//     ErrClosed, ErrReadOnly, ErrMessageTooLarge, ErrInvalidArgument and a
//     bare ctx error alike. A driver that cannot tell (a timeout, a
//     cancellation or a Close after the request may have left, a lost
//     response, a broker answer that does not say) wraps ErrOutcomeUnknown,
//     alongside the cause. Callers and the adaptor's write-ahead cache rely
//     on it: after "not stored" a retry cannot write the message twice, and
//     a scanner fed by the cache skips the message.
//   - DeliverAll starts at the oldest retained message; DeliverLatest delivers
//     only messages appended after the scanner opened; StartFrom(id) includes
//     id, StartAfter(id) excludes it. A start below the retained range fails
//     with ErrOutOfRange (from Read or the scanner's Error), never a silent
//     skip. A scanner never shows a gap.
//   - Truncate(id) allows discarding everything up to and including id;
//     afterwards StartAfter(id) returns exactly the remaining messages.
//   - A ReadOnly WAL returns ErrReadOnly from Append and Truncate.
//   - After Close, calls return ErrClosed; Close is idempotent and never
//     hangs. Closing a WAL ends its scanners; closing an opener ends its WALs.
//   - With Fencing, once Open of a higher term returned, nothing a lower
//     term appends is stored: its Append fails with ErrFenced (or, unsure,
//     ErrOutcomeUnknown, and still the message is never read), so every
//     reader, wherever it starts, sees the lower term's messages end before
//     the higher term's begin. A driver whose backend cannot promise that
//     declares no Fencing and may implement ClaimReader, so the adaptor's
//     read fence drops the lower term's late messages for every reader.
//   - A message larger than Capabilities.MaxMessageSize fails with
//     ErrMessageTooLarge before anything is written.
//   - Bad arguments fail with ErrInvalidArgument naming the field.
//   - Channels are isolated: nothing appended to one is read from another.
//   - Data survives closing and rebuilding the opener (a process restart).
//
// Errors wrap the backend's own error, so the cause stays visible:
// fmt.Errorf("%w: kafka: produce %s: %w", walimpls.ErrUnavailable, topic, err).
//
// Writing a driver: implement the four interfaces; in the driver package's
// init, call registry.RegisterBuilder with the builder and
// message.RegisterMessageIDUnmarshaler for its IDs; then make the driver's
// test call walimplstest.Run with a Harness that builds openers on a test
// backend, listing the faults the backend can inject. The driver is done
// when every case passes under -race.
//
// The helper package has the pieces that make a driver short (a scanner
// pump, a lifetime guard, integer ID codecs); impls/memory is the reference
// driver that uses them.
package walimpls
