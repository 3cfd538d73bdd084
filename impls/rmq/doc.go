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
// length-prefixed) for a message kept inline (the default below 64 KiB), or
// a pointer into the channel's value log (below). Beside the data, each channel keeps its highest opened
// term and its first retained sequence. On open the next sequence of a
// channel is recovered from its last key, so IDs continue where they ended.
// MessageIDs are helper.Int64ID sequences starting at 0.
//
// # Durability and sync modes
//
// An Append returns once its record is in the store's journal (below), or
// for a large message in the channel's value log, and, in the default
// mode SyncAlways ("sync"), after that file has been fdatasynced.
// Concurrent appends share fdatasyncs: while one group is written and
// synced, the appends that arrive meanwhile queue, and the next write and
// fdatasync take them all, with no timer window, so a lone appender pays
// exactly one write and one fdatasync and many appenders far fewer than one
// each. The journal is shared by every channel of the directory, so this
// holds across channels; a value log is one channel's. SyncGroup ("group")
// is the same, except that the journal waits up to WithGroupCommitWindow
// after a sync before starting the next one. SyncNone ("none") never waits
// for fsync, so even a process crash can lose the newest appends (a machine
// crash or power loss, more). It is unsafe and meant for tests and
// benchmarks.
//
// A failed write or fsync of the journal or a value log (an I/O error, a
// full disk) fails that Append with walimpls.ErrOutcomeUnknown, and from
// then on the store refuses every write with ErrStoreFailed: data written
// after a failed fsync could be lost silently, so the only way forward is
// to close and reopen (which replays what did reach the disk). Nothing
// acknowledged is ever lost. The same holds for the background reclaimer's
// sync of the journal, and for any panic or fatal error inside Pebble.
//
// # Journal
//
// Pebble runs without its own log (DisableWAL). Every batch the store
// writes to Pebble (a message kept inline, value log pointers, a
// truncation, a term, a new channel) goes first to the journal, one log
// for the whole directory: <data dir>/journal/<segment number, 16
// hex>.jnl, segments of up to 64 MiB, each a run of frames (magic, length,
// frame sequence, crc32c, then the Pebble batch). A committer queues its
// batch (an append under its channel's lock, so a channel's sequences
// enter the journal in order); the first one that finds no write running
// becomes the leader: it writes every queued batch as one frame (one
// WriteAt), fdatasyncs it if any of them asked for a sync, applies the
// frame to Pebble's memtable, wakes the group and hands the leading to a
// committer of the group that queued meanwhile, so no committer serves
// the others' flushes past its own. The segment being written is kept 1 MiB ahead of its frames
// with zeros, in the same write and fdatasync, so most fdatasyncs change no
// file size and commit no file system metadata (see Value log).
//
// Each frame also sets a checkpoint key in Pebble (where the frame starts,
// its sequence). Pebble flushes its memtables in order, so after a crash
// the checkpoint in Pebble names the newest frame it kept; opening replays
// the frames after it, in order, up to the first torn, garbled or zero one
// (or one whose sequence does not follow), and writes from then on go to
// a new segment, never after garbage. Before the journal moves to a new
// segment, the old one is fdatasynced, so no synced frame can survive a
// crash that lost an earlier one. Once more than 2 segments exist, the
// background reclaimer flushes Pebble and deletes the segments the flush
// covered; a clean close flushes and deletes them all. Recovery replays
// the journal since Pebble's last flush: about one memtable (64 MiB), up to
// the 4 that may queue, whatever the size of the data.
//
// The format is versioned (a format key in Pebble, 2 with the journal):
// a directory of a newer format is refused with ErrUnknownFormat naming
// it. A directory written before the journal (Pebble's own log) opens
// as it is: Pebble replays and flushes its old log at Open. An older
// release opening a directory this one wrote after a crash (not after a
// clean close, which leaves the journal empty) would not see what only the
// journal holds.
//
// # Full and failing disks
//
// Every error names the data directory and wraps its cause, so
// errors.Is(err, syscall.ENOSPC) tells a full disk. Nothing panics and
// nothing waits without end:
//
//   - Build takes the directory's lock, then writes and syncs a small probe
//     file: a disk that takes no write fails the build at once
//     (walimpls.ErrUnavailable wrapping ENOSPC or EIO). Replaying the
//     journal writes nothing. Opening a directory of an older release for
//     writing flushes what Pebble's own log holds, which needs about as
//     much free space as the log; if that flush fails, Build returns after
//     about two seconds while Pebble keeps retrying in the background (at
//     most once a second); a later Build of the directory waits for it.
//   - While Pebble cannot flush its memtable, appends fail fast with a
//     retryable walimpls.ErrUnavailable (nothing written) instead of
//     filling the memtables and then blocking in Pebble's write stall; they
//     work again once a flush succeeds. Truncate keeps working: it is what
//     frees space (value log segments go at once; sstables once flushes
//     work).
//   - A fatal error on one of Pebble's own goroutines (a MANIFEST write
//     that fails after a flush or compaction) fails the store: the
//     goroutine is parked, since Pebble must not go on, and Close returns
//     an error instead of waiting for it; the directory stays locked until
//     the process exits.
//   - The journal failing fails the store, not Pebble (Pebble has no
//     log of its own to fail): Close returns and the directory opens
//     again, in the same process too, with everything acknowledged.
//   - Pebble's background failures are logged through WithLogger's
//     logger: each kind (what failed, and its errno) once, then at most
//     once a minute, and once more when the work succeeds again. Pebble
//     retries a failed flush or compaction at once, forever; creating the
//     next table file waits 10 ms, doubling up to 1 s, so the retries do not
//     spin.
//
// WithReadOnly opens Pebble read-only: nothing is flushed or written, so a
// directory on a full disk can still be read (walctl scan), including what
// a crash left only in the journal (replayed into memory) and the value
// log pointers a crash took from Pebble, which are kept in memory.
//
// # Value log
//
// A message from WithValueLogThreshold's size (default 64 KiB; 1 sends
// every message, which makes one channel's synced appends faster but
// keeps a segment open and up to 1 MiB of zeros ahead per channel being
// written; 0 keeps every message in the journal) is written once, to
// the channel's value log:
// segment files of up to 64 MiB under <data dir>/vlog/<channel id, 8
// hex>/<first sequence, 16 hex>.vlog, each record framed by magic, channel
// id, sequence, length and a crc32c. Pebble is the index: it gets a
// 25-byte pointer (segment, offset, length, crc) per message. An LSM would
// write every byte twice, to its log and again to an sstable, and its
// commit path (log writer goroutine, sync wait) costs more than a file.
//
// An append takes the channel lock, gets its sequence and joins the
// channel's pending batch. The first appender that finds no flush running
// writes the batch (one write), fdatasyncs it, commits its pointers
// through the journal without a sync, wakes the batch, and hands the
// flushing to an appender of the batch that queued meanwhile. Before a batch is written, an earlier append
// of the channel still waiting for the journal's sync (a message under
// the threshold) is made durable first. The segment being written is kept
// 1 MiB ahead of its records with zeros, in the same write and fdatasync,
// so most fdatasyncs change no file size and commit no file system
// metadata.
//
// The journal is recovered as a prefix of its frames, so a crash can lose
// only a channel's newest pointers, and their records are the newest of
// the newest segment (the journal is synced before a new segment starts).
// Opening a channel scans that segment and puts the lost pointers back;
// the scan reads headers only up to the last pointer Pebble kept, so
// recovery costs at most one segment (64 MiB) plus replaying the journal,
// whatever the size of the channel. A torn or garbled tail, or the zeros after the records,
// ends the scan; the next record goes to a new segment, never after
// garbage. A pointer whose record is missing or fails its checks is a read
// error, never a skipped message. Segments whose records are all truncated
// are deleted in the background once the truncation is synced; the segment
// being written goes too once every message of the channel is truncated.
//
// Records, pointers and inline values are unchanged since releases before
// the journal.
//
// # Data directory
//
// The directory is WithPath's, else "./mqwal-data". The driver never reads
// the environment; package config maps rmq.path and MQWAL_RMQ_PATH to
// WithPath (Section).
// Openers of one process on the same directory share one Pebble instance
// (and its channel state), so fencing works across them. Another process
// opening the directory gets ErrLocked (a walimpls.ErrUnavailable) wrapping
// Pebble's lock error, never a second writer. A path that cannot be a data
// directory (not a directory, no permission, a read-only file system) is
// walimpls.ErrInvalidArgument naming the cause.
//
// A clean close flushes the memtable and deletes the journal's segments
// and the (empty) log files Pebble still creates at each open, so after a
// run the directory holds about the data. While running, the journal
// holds up to about a second of writes beyond its 2 segments (the
// reclaimer's round) and 1 MiB of zeros ahead.
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
// truncated messages back (never a partial range), and the background
// reclaimer within about a second (or the next synced append of a message
// kept inline) makes it durable: a value log append does not sync the
// journal.
//
// Scanners read in bounded chunks (4096 messages or 4 MiB) with
// short-lived iterators and wait for a commit notification when they reach
// the end, so tailing never polls the disk. A scanner at least two chunks
// behind the durable end (catching up, or replaying from the start) reads
// the next two chunks ahead, each on a short-lived goroutine, while its
// consumer takes the current one: a cold scan is CPU-bound, and with an
// idle core it finishes sooner (about a fifth, on 2 cores). A store has
// 2 × GOMAXPROCS chunks to read ahead over all its scanners (a read ahead
// is sized by the last chunk's messages and bounded at 8 MiB); a scanner
// that finds none free reads in place. So a slow consumer of a huge
// channel holds at most its read-ahead buffer plus one chunk in memory,
// and the store that many chunks more, with thousands of channels
// catching up after a restart too. Scanners only see messages whose
// append has been made durable. A scanned payload of up to 8 KiB is cut from a
// 64 KiB block shared with the payloads read after it (one allocation per
// block, not per message): a consumer that keeps one such message keeps
// its block alive, so one that keeps a few messages out of many for long
// should copy them.
//
// Pebble is tuned for a log: 64 MiB memtables (up to 4 may queue under
// writes faster than the disk flushes them, so plan for ~256 MiB of memory
// under sustained load), 2 compaction workers, no block compression (WAL
// payloads are usually incompressible), 64 KiB blocks and 16 MiB sstables
// for fast sequential scans, and a 1 MiB block cache (uncompressed blocks
// that a scan reads once gain nothing from a larger one, and Pebble's 8 MiB
// default cost a fresh process's cold scan a third more CPU: see
// DefaultBlockCacheSize). Override any of it with WithPebbleOptions.
package rmq
