package rmq

import (
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqwal/mqwal/walimpls"
)

// ErrStoreFailed: a write or fsync of the data directory failed earlier, so
// the store refuses every further write until it is closed and reopened.
// Continuing after a failed fsync could lose acknowledged data silently.
var ErrStoreFailed = errors.New("rmq: store failed earlier and refuses writes until reopened")

// The Pebble instances of this process, by absolute directory: openers of
// one directory share one instance (Pebble's lock admits one per process)
// and its channel state, so fencing holds across them.
var (
	storesMu sync.Mutex
	stores   = map[string]*store{}
)

// store is one open Pebble database and the state of its channels.
type store struct {
	key  string // absolute path, the stores map key
	path string
	db   *pebble.DB
	// fs is the file system Pebble uses; the value log uses it too, so
	// fault injection through WithPebbleOptions covers both.
	fs vfs.FS
	// segBytes is the value log segment size (vlogSegmentBytes but in tests).
	segBytes int64
	// fsCloser stops the disk-health checker after db is closed.
	fsCloser io.Closer
	refs     int // guarded by storesMu

	// ops is held shared by every operation that uses db and exclusively by
	// the final close, so an Append racing with Close never touches a
	// closed database.
	ops    sync.RWMutex
	closed bool

	mu       sync.Mutex
	channels map[string]*channelState
	nextID   uint32

	failure atomic.Pointer[error]

	reclaim *reclaimer
}

// acquireStore opens (or shares) the database in b's directory.
func acquireStore(b *Builder) (*store, error) {
	path := b.Path()
	key, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: rmq path %q: %w", walimpls.ErrInvalidArgument, path, err)
	}
	storesMu.Lock()
	defer storesMu.Unlock()
	if s, ok := stores[key]; ok {
		s.refs++
		return s, nil
	}
	opts := b.pebbleOptions()
	// Pebble wraps a nil FS in disk-health checks whose goroutine a failed
	// Open leaks; own the wrapper so it is closed on every path.
	var fsCloser io.Closer = io.NopCloser(nil)
	if opts.FS == nil {
		opts.FS, fsCloser = vfs.WithDiskHealthChecks(vfs.Default, 5*time.Second, nil, func(info vfs.DiskSlowInfo) {
			quietLogger{}.Errorf("disk slow: %s", info)
		})
	}
	db, err := pebble.Open(path, opts)
	if err != nil {
		_ = fsCloser.Close()
	}
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
		// Pebble reports a held LOCK file as the bare errno.
		return nil, fmt.Errorf("%w: rmq: data directory %s is locked by another process (Pebble's LOCK file): %w", walimpls.ErrUnavailable, path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: rmq: open data directory %s: %w", walimpls.ErrUnavailable, path, err)
	}
	s := &store{key: key, path: path, db: db, fs: opts.FS, segBytes: b.segBytes, fsCloser: fsCloser, refs: 1, channels: map[string]*channelState{}}
	if err := s.loadChannelIDs(); err != nil {
		_ = db.Close()
		_ = fsCloser.Close()
		return nil, err
	}
	s.reclaim = startReclaimer(s)
	stores[key] = s
	return s, nil
}

// release drops one reference; the last one flushes and closes Pebble.
// It closes under storesMu, so an opener built right after the last one
// closed waits for Pebble's lock to be free instead of failing on it.
func (s *store) release() error {
	storesMu.Lock()
	defer storesMu.Unlock()
	s.refs--
	if s.refs > 0 {
		return nil
	}
	delete(stores, s.key)
	s.reclaim.stop()
	s.ops.Lock()
	defer s.ops.Unlock()
	s.closed = true
	var err error
	if s.failed() == nil {
		// Flushing makes the next open skip replaying the log.
		err = s.guard(s.db.Flush)
	}
	if cerr := s.guard(s.db.Close); cerr != nil && err == nil {
		err = cerr
	}
	s.mu.Lock()
	for _, c := range s.channels {
		c.vlog.close()
	}
	s.mu.Unlock()
	_ = s.fsCloser.Close()
	if err != nil {
		return fmt.Errorf("rmq: close %s: %w", s.path, err)
	}
	return nil
}

// begin starts an operation that uses db; end it with s.ops.RUnlock.
func (s *store) begin(what string) error {
	s.ops.RLock()
	if s.closed {
		s.ops.RUnlock()
		return fmt.Errorf("%w: rmq %s: store %s is closed", walimpls.ErrClosed, what, s.path)
	}
	return nil
}

// failed is the sticky write failure, if any.
func (s *store) failed() error {
	if p := s.failure.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrStoreFailed, *p)
	}
	return nil
}

func (s *store) fail(err error) {
	s.failure.CompareAndSwap(nil, &err)
}

// guard runs fn and turns a Pebble fatal error (our logger panics instead of
// exiting the process) into an error.
func (s *store) guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = fe
		}
	}()
	return fn()
}

// loadChannelIDs finds the next free channel id.
func (s *store) loadChannelIDs() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixChannel}, UpperBound: []byte{prefixChannel + 1}})
	if err != nil {
		return fmt.Errorf("rmq: list channels in %s: %w", s.path, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("rmq: list channels in %s: %w", s.path, err)
		}
		id, err := decodeChannelID(v)
		if err != nil {
			return fmt.Errorf("rmq: channel %q in %s: %w", it.Key()[1:], s.path, err)
		}
		s.nextID = max(s.nextID, id+1)
	}
	return it.Error()
}

// channel returns the state of name, creating the channel if it is new and
// recovering its sequence from disk the first time it is used.
func (s *store) channel(name string) (*channelState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.channels[name]; ok {
		return c, nil
	}
	id, err := s.channelID(name)
	if err != nil {
		return nil, err
	}
	c := &channelState{name: name, id: id, changed: make(chan struct{})}
	if err := s.recover(c); err != nil {
		return nil, err
	}
	s.channels[name] = c
	return c, nil
}

func (s *store) channelID(name string) (uint32, error) {
	v, closer, err := s.db.Get(channelKey(name))
	if err == nil {
		defer closer.Close()
		id, err := decodeChannelID(v)
		if err != nil {
			return 0, fmt.Errorf("rmq: channel %q: %w", name, err)
		}
		return id, nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return 0, fmt.Errorf("%w: rmq: look up channel %q: %w", walimpls.ErrUnavailable, name, err)
	}
	if err := s.failed(); err != nil {
		return 0, err
	}
	if s.nextID == math.MaxUint32 {
		return 0, fmt.Errorf("rmq: %s holds the maximum number of channels", s.path)
	}
	id := s.nextID
	if err := s.commit(pebble.Sync, func(b *pebble.Batch) error {
		return b.Set(channelKey(name), binaryUint32(id), nil)
	}); err != nil {
		return 0, fmt.Errorf("rmq: create channel %q: %w", name, err)
	}
	s.nextID++
	return id, nil
}

func binaryUint32(v uint32) []byte {
	return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// recover loads a channel's term, first retained and next sequence.
func (s *store) recover(c *channelState) error {
	term, err := s.getUint64(metaKey(c.id, metaTerm), "term")
	if err != nil {
		return fmt.Errorf("rmq: channel %q: %w", c.name, err)
	}
	first, err := s.getUint64(metaKey(c.id, metaFirst), "first retained sequence")
	if err != nil {
		return fmt.Errorf("rmq: channel %q: %w", c.name, err)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: dataKey(c.id, 0), UpperBound: channelEnd(c.id)})
	if err != nil {
		return fmt.Errorf("rmq: channel %q: %w", c.name, err)
	}
	defer it.Close()
	next := first
	if it.Last() {
		_, seq, err := parseDataKey(it.Key())
		if err != nil {
			return fmt.Errorf("rmq: channel %q: %w", c.name, err)
		}
		next = max(next, seq+1)
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("rmq: channel %q: %w", c.name, err)
	}
	c.term, c.first, c.next = int64(term), first, next
	if err := s.recoverVlog(c); err != nil {
		return err
	}
	c.end = c.next
	return nil
}

func (s *store) getUint64(key []byte, what string) (uint64, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: read %s: %w", walimpls.ErrUnavailable, what, err)
	}
	defer closer.Close()
	return decodeUint64(v, what)
}

// commit writes one batch built by fill and waits for it per opts. A
// failure of the write is sticky.
func (s *store) commit(opts *pebble.WriteOptions, fill func(*pebble.Batch) error) error {
	if err := s.failed(); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := fill(b); err != nil {
		return err
	}
	if err := s.guard(func() error { return s.db.Apply(b, opts) }); err != nil {
		s.fail(err)
		return fmt.Errorf("%w: rmq: write to %s: %w", walimpls.ErrOutcomeUnknown, s.path, err)
	}
	return nil
}

// channelState is one channel's position, shared by every WAL of it in the
// process. mu orders sequence assignment, term checks and truncation.
type channelState struct {
	name string
	id   uint32

	mu    sync.Mutex
	term  int64  // highest term opened ReadWrite (persisted)
	next  uint64 // sequence of the next append
	first uint64 // first retained sequence (persisted)
	end   uint64 // every sequence below end is durable and visible to scanners
	// changed is closed and replaced whenever end or first moves, so
	// scanners wait for commits without polling.
	changed chan struct{}
	// vlog holds the channel's large records (its writes are under mu).
	vlog *vlog
}

// view is what a scanner needs to decide whether to read or wait.
func (c *channelState) view() (first, end uint64, changed <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first, c.end, c.changed
}

// durable marks every sequence up to seq durable. Pebble syncs its log in
// commit order, so seq being synced means every earlier one is too.
func (c *channelState) durable(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.durableLocked(seq)
}

func (c *channelState) durableLocked(seq uint64) {
	if seq+1 > c.end {
		c.end = seq + 1
		c.notifyLocked()
	}
}

func (c *channelState) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// fatalError is what quietLogger.Fatalf panics with, so that Pebble's fatal
// commit errors reach the caller of Apply as an error instead of exiting the
// process.
type fatalError struct{ msg string }

func (e fatalError) Error() string { return "pebble fatal: " + e.msg }

// quietLogger drops Pebble's informational chatter (a line per flush and
// compaction) and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	log.Printf("rmq: pebble: "+format, args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fatalError{msg: fmt.Sprintf(format, args...)})
}
