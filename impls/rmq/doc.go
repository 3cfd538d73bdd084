// Package rmq is mqwal's embedded, durable default backend (backend name
// "rmq"): a RocksMQ-style log store on github.com/cockroachdb/pebble/v2,
// pure Go, no server.
//
//	import _ "github.com/mqwal/mqwal/impls/rmq"
//	opener, err := registry.MustGetBuilder("rmq").Build()
//
// # Storage layout
//
// Every channel of a data directory lives in one Pebble database. A channel
// name is mapped once to a small channel id (a uint32) stored in a metadata
// keyspace; a message is the key
//
//	'd' | channel id (4 bytes, big-endian) | sequence (8 bytes, big-endian)
//
// whose value is message.EncodeRecord(payload, properties) (versioned,
// length-prefixed). Beside the data, each channel keeps its highest opened
// term and its first retained sequence. On open the next sequence of a
// channel is recovered from its last key, so IDs continue where they ended.
// MessageIDs are helper.Int64ID sequences starting at 0.
//
// # Durability and sync modes
//
// An Append returns once its record is in Pebble's write-ahead log and, in
// the default mode SyncAlways ("sync"), after that log has been fsynced.
// Concurrent appends, to one channel or many, share fsyncs: while one sync
// runs, the appends that arrive meanwhile are synced together by the next
// one, so a lone appender pays exactly one fsync and many appenders pay far
// fewer than one each. SyncGroup ("group") keeps the same guarantee but waits
// up to WithGroupCommitWindow after a sync before starting the next one, to
// pack more appends into each fsync under heavy concurrency at the cost of
// latency. SyncNone ("none") never waits for fsync: an append survives a
// process crash but not a machine crash or power loss. It is unsafe and meant
// for tests and benchmarks.
//
// A failed write or fsync of the log (an I/O error, a full disk) fails that
// Append with walimpls.ErrOutcomeUnknown, and from then on the store refuses
// every write with ErrStoreFailed: data written after a failed fsync could be
// lost silently, so the only way forward is to close and reopen (which
// replays what did reach the disk). Nothing acknowledged is ever lost.
//
// # Data directory
//
// The directory is chosen in this order: WithPath if given, else the
// environment variable MQWAL_RMQ_PATH (read by Build), else "./mqwal-data".
// Openers of one process on the same directory share one Pebble instance
// (and its channel state), so fencing works across them. Another process
// opening the directory gets an error wrapping walimpls.ErrUnavailable and
// Pebble's lock error, never a second writer.
//
// # Semantics
//
// Capabilities: Fencing (the highest ReadWrite term per channel is
// persisted: opening with a lower term fails with ErrFenced, opening with a
// higher one makes the older WAL's appends and truncates fail with
// ErrFenced; the term is checked under the lock that assigns sequences),
// PhysicalTruncate (Truncate is one DeleteRange plus the new first retained
// sequence in one atomic batch, so it returns in microseconds; reading below
// it gives ErrOutOfRange; a background compaction of the deleted range, at
// most one per second, gives the disk space back), and MaxMessageSize
// (default 64 MiB, WithMaxMessageSize). Truncate is not fsynced on its own:
// it only allows discarding, so a crash right after it may bring the
// truncated messages back (never a partial range), and the next synced
// append makes it durable.
//
// Scanners read in bounded chunks with short-lived iterators and wait for a
// commit notification when they reach the end, so tailing never polls the
// disk and a slow consumer of a huge channel holds at most its read-ahead
// buffer plus one chunk in memory. Scanners only see messages whose append
// has been made durable.
//
// Pebble is tuned for a log: 64 MiB memtables (up to 4 may queue under
// writes faster than the disk flushes them, so plan for ~256 MiB of memory
// under sustained load), 2 compaction workers, no block compression (WAL
// payloads are usually incompressible), 64 KiB blocks and 16 MiB sstables
// for fast sequential scans. Override any of it with WithPebbleOptions.
package rmq
