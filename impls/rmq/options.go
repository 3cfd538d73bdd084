package rmq

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqwal/mqwal/walimpls"
)

// Name is the backend name of this driver.
const Name = "rmq"

// Defaults.
const (
	// DefaultPath is the data directory unless WithPath says otherwise.
	// The driver never reads the environment: MQWAL_RMQ_PATH is package
	// config's (rmq.path).
	DefaultPath = "./mqwal-data"
	// DefaultMaxMessageSize is the message size limit unless
	// WithMaxMessageSize changes it.
	DefaultMaxMessageSize = 64 << 20
	// DefaultGroupCommitWindow is how long SyncGroup holds the next fsync
	// back to collect more appends. Measured with 8 appenders (1 KiB): 20–30
	// µs share fsyncs best (1.15–1.20 of a raw group-commit file); 100 µs
	// halves throughput, because the Go runtime waits at least a
	// millisecond for a sub-millisecond timer once its Ps go idle
	// (runtime/netpoll_epoll.go), so longer windows oversleep.
	DefaultGroupCommitWindow = 20 * time.Microsecond
	// DefaultMemTableSize is Pebble's memtable size for a log workload.
	DefaultMemTableSize = 64 << 20
	// DefaultBlockSize is the sstable block size.
	DefaultBlockSize = 64 << 10
	// DefaultBlockCacheSize is Pebble's block cache (Pebble's default is 8
	// MiB). Blocks are not compressed, so the cache saves no decoding, and a
	// scan reads each block once. Pebble allocates each block with cgo's
	// calloc: with 8 MiB (4 shards of 2 MiB) a cold scan of 100k 1 KiB
	// messages spent a quarter of its CPU in calloc, most of it page faults
	// after glibc's per-thread arenas gave the evicted blocks back to the
	// kernel; with 0.5-2 MiB the freed blocks are reused at once (scan CPU
	// 300-490 ms -> 185-250 ms, calloc 21 % -> 5 %). Only sstable reads go
	// through it: appends, tailing reads (memtable) and the value log do not.
	DefaultBlockCacheSize = 1 << 20
	// DefaultTargetFileSize is the sstable size Pebble aims for.
	DefaultTargetFileSize = 16 << 20
	// DefaultCompactionWorkers is Pebble's compaction concurrency.
	DefaultCompactionWorkers = 2
	// DefaultValueLogThreshold is the encoded record size from which a
	// message goes to the value log unless WithValueLogThreshold changes it.
	// Not 1 (every message), although one channel's synced appends are
	// faster that way: each channel being written keeps its segment open
	// and up to 1 MiB of zeros ahead, so 10,000 channels would hold 10,000
	// descriptors and 10 GiB of disk. Either setting reads what the other
	// wrote (the format is the same).
	DefaultValueLogThreshold = 64 << 10
)

// SyncMode says when an Append returns relative to the disk.
type SyncMode int

const (
	// SyncAlways ("sync", the default): an append returns after the log is
	// fsynced. Concurrent appends share fsyncs without waiting for each other.
	SyncAlways SyncMode = iota
	// SyncGroup ("group"): as SyncAlways, but after each fsync the next one
	// waits up to the group commit window so more appends share it.
	SyncGroup
	// SyncNone ("none"): an append returns once Pebble holds it in memory,
	// before its log reaches the OS; the newest appends are lost on a process
	// crash, more on a machine crash or power loss. Unsafe: tests and
	// benchmarks only.
	SyncNone
)

func (m SyncMode) String() string {
	switch m {
	case SyncAlways:
		return "sync"
	case SyncGroup:
		return "group"
	case SyncNone:
		return "none"
	}
	return fmt.Sprintf("SyncMode(%d)", int(m))
}

// ParseSyncMode parses "sync", "group" or "none" (the config form).
func ParseSyncMode(s string) (SyncMode, error) {
	for _, m := range []SyncMode{SyncAlways, SyncGroup, SyncNone} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: rmq sync mode %q: use sync, group or none", walimpls.ErrInvalidArgument, s)
}

// Option configures a Builder.
type Option interface{ apply(*Builder) }

type optionFunc func(*Builder)

func (f optionFunc) apply(b *Builder) { f(b) }

// WithPath sets the data directory (default DefaultPath).
func WithPath(dir string) Option {
	return optionFunc(func(b *Builder) { b.path, b.pathSet = dir, true })
}

// WithSyncMode sets when appends return; see SyncMode.
func WithSyncMode(m SyncMode) Option { return optionFunc(func(b *Builder) { b.syncMode = m }) }

// WithGroupCommitWindow sets how long SyncGroup delays the next fsync. It
// applies to the Pebble instance of the directory, so it counts only for the
// first opener of a directory in a process.
func WithGroupCommitWindow(d time.Duration) Option {
	return optionFunc(func(b *Builder) { b.groupWindow = d })
}

// WithMaxMessageSize sets the largest message (payload plus properties)
// accepted; n <= 0 means no limit of the driver's own.
func WithMaxMessageSize(n int) Option {
	return optionFunc(func(b *Builder) { b.maxSize = max(n, 0) })
}

// WithValueLogThreshold sets the encoded record size (payload, properties
// and a few bytes of framing) from which a message is stored in the
// channel's value log, files beside Pebble written once and fdatasynced
// once per batch of appends, with only a pointer in Pebble; smaller ones
// go through the store's journal into Pebble. 0 keeps every message in
// Pebble; negative
// is an error. It counts per opener (any opener reads both kinds), default
// DefaultValueLogThreshold. 1 (every message) suits a few busy channels:
// see DefaultValueLogThreshold for what it costs per channel.
func WithValueLogThreshold(bytes int) Option {
	return optionFunc(func(b *Builder) { b.vlogThreshold = bytes })
}

// WithPebbleOptions lets fn adjust the Pebble options after the driver's
// log tuning is applied (memtable size, compaction workers, compression,
// cache, FS, logger). Like every Pebble option it counts only for the first
// opener of a directory in a process, which opens the database. The driver
// wraps the FS (see DESIGN.md) and chains its own EventListener before
// the one set here; a Logger set here replaces the driver's, which is what
// turns Pebble's fatal errors into a failed store instead of an exit.
// ReadOnly is WithReadOnly's.
func WithPebbleOptions(fn func(*pebble.Options)) Option {
	return optionFunc(func(b *Builder) { b.pebbleTuning = append(b.pebbleTuning, fn) })
}

// WithReadOnly makes the opener read only: its Open accepts only
// ReadOnly, and a channel that does not exist is an error instead of being
// created. Unless another opener of this process has the directory open
// already (then it shares that instance), Pebble is opened read-only: its
// log is replayed into memory, nothing is flushed or compacted, and no
// file is written, so a directory on a full disk can still be read. Such
// an opener sees the messages stored when it was built: no other process
// can append meanwhile (the directory is locked), and an opener of this
// process that wants to write must wait until the read-only ones close.
func WithReadOnly() Option { return optionFunc(func(b *Builder) { b.readOnly = true }) }

// WithLogger sets where the driver reports what it cannot return to a
// caller: Pebble's background failures (each kind once, then at most once
// a minute, and when it works again), a slow disk, failed reclaims, a
// failed close. Default slog.Default(). Like the Pebble options it counts
// only for the first opener of a directory in a process.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(b *Builder) { b.logger = l }) }

// Builder builds rmq openers. It is immutable once built and safe for
// concurrent use.
type Builder struct {
	path          string
	pathSet       bool
	syncMode      SyncMode
	groupWindow   time.Duration
	maxSize       int
	vlogThreshold int
	segBytes      int64
	readOnly      bool
	logger        *slog.Logger
	pebbleTuning  []func(*pebble.Options)
}

// NewBuilder returns a builder with the defaults changed by opts.
func NewBuilder(opts ...Option) *Builder {
	b := &Builder{syncMode: SyncAlways, groupWindow: DefaultGroupCommitWindow, maxSize: DefaultMaxMessageSize, vlogThreshold: DefaultValueLogThreshold, segBytes: vlogSegmentBytes}
	for _, o := range opts {
		o.apply(b)
	}
	return b
}

// Name is "rmq".
func (b *Builder) Name() string { return Name }

// Path is the data directory Build uses: WithPath's, else DefaultPath.
func (b *Builder) Path() string {
	if b.pathSet {
		return b.path
	}
	return DefaultPath
}

func (b *Builder) validate() error {
	switch {
	case b.Path() == "":
		return fmt.Errorf("%w: rmq path is empty", walimpls.ErrInvalidArgument)
	case b.syncMode != SyncAlways && b.syncMode != SyncGroup && b.syncMode != SyncNone:
		return fmt.Errorf("%w: rmq sync mode %v is unknown", walimpls.ErrInvalidArgument, b.syncMode)
	case b.groupWindow < 0:
		return fmt.Errorf("%w: rmq group commit window %v is negative", walimpls.ErrInvalidArgument, b.groupWindow)
	case b.vlogThreshold < 0:
		return fmt.Errorf("%w: rmq value log threshold (WithValueLogThreshold) %d is negative", walimpls.ErrInvalidArgument, b.vlogThreshold)
	}
	return nil
}

func (b *Builder) log() *slog.Logger {
	if b.logger != nil {
		return b.logger
	}
	return slog.Default()
}

// pebbleOptions is Pebble tuned for an append-only log, then the user's
// overrides, then what the store needs to see Pebble's failures (h): its
// logger, event listener and file system wrapper. Close fsCloser after
// Pebble is closed (or failed to open).
func (b *Builder) pebbleOptions(h *health) (o *pebble.Options, fsCloser io.Closer) {
	o = &pebble.Options{
		MemTableSize:                DefaultMemTableSize,
		CacheSize:                   DefaultBlockCacheSize,
		MemTableStopWritesThreshold: 4,
		CompactionConcurrencyRange:  func() (int, int) { return DefaultCompactionWorkers, DefaultCompactionWorkers },
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       64,
		ReadOnly:                    b.readOnly,
	}
	o.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	for i := range o.Levels {
		// Log records are read sequentially: big blocks mean fewer reads
		// and cache inserts per message.
		o.Levels[i].BlockSize = DefaultBlockSize
		o.Levels[i].IndexBlockSize = DefaultBlockSize
		// Fewer, larger files: a scan keeps its readahead going longer.
		o.TargetFileSizes[i] = DefaultTargetFileSize
	}
	for _, fn := range b.pebbleTuning {
		fn(o)
	}
	// The store's journal is the log (journal.go). Pebble still replays
	// and flushes the logs an older release left, at Open.
	o.DisableWAL = true
	o.ReadOnly = b.readOnly
	fsCloser = io.NopCloser(nil)
	if o.FS == nil {
		// Pebble wraps a nil FS in disk-health checks whose goroutine a
		// failed Open leaks; own the wrapper so it is closed on every path.
		o.FS, fsCloser = vfs.WithDiskHealthChecks(vfs.Default, 5*time.Second, nil, func(info vfs.DiskSlowInfo) {
			h.report("disk", fmt.Errorf("slow: %s", info))
		})
	}
	o.FS = healthFS{FS: o.FS, h: h}
	if o.Logger == nil {
		o.Logger = pebbleLogger{h}
	}
	o.EventListener = h.eventListener(o.EventListener)
	return o, fsCloser
}
