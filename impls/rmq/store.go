package rmq

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqwal/mqwal/walimpls"
)

// ErrStoreFailed: a write or fsync of the data directory failed earlier
// (or Pebble stopped on a fatal error), so the store refuses every further
// write until it is closed and reopened. Continuing after a failed fsync
// could lose acknowledged data silently.
var ErrStoreFailed = errors.New("rmq: store failed earlier and refuses writes until reopened")

// store is one open Pebble database and the state of its channels.
type store struct {
	key  string // absolute path, the stores map key
	path string
	// readOnly: Pebble is open read-only (WithReadOnly): nothing is
	// written, channels are not created, there is no reclaimer.
	readOnly bool
	db       *pebbleDB
	// jnl is the store's write-ahead log (journal.go); Pebble's is off.
	jnl    *journal
	health *health
	// readAheadSlots is the semaphore of chunks its scanners read ahead.
	readAheadSlots chan struct{}
	// fs is the file system Pebble uses; the value log uses it too, so
	// fault injection through WithPebbleOptions covers both.
	fs vfs.FS
	// segBytes is the value log segment size (vlogSegmentBytes but in tests).
	segBytes int64
	// lock is Pebble's directory lock, taken before Pebble opens.
	lock *pebble.Lock
	// fsCloser stops the disk-health checker after db is closed.
	fsCloser io.Closer
	// walDir is Pebble's WALDir option ("" = the data directory; "-" =
	// logs may be elsewhere too): where a clean close removes old logs.
	walDir string
	refs   int // guarded by storesMu

	// ops is held shared by every operation that uses db and exclusively by
	// the final close, so an Append racing with Close never touches a
	// closed database.
	ops    sync.RWMutex
	closed atomic.Bool

	mu       sync.Mutex
	channels map[string]*channelState
	nextID   uint32

	reclaim   *reclaimer // nil for a read-only store
	committer *committer
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
	// New operations are refused from here on; the ones in progress end
	// before Pebble closes.
	s.closed.Store(true)
	s.health.close()
	if s.reclaim != nil {
		s.reclaim.cancel()
	}
	if fe := s.health.fatal.Load(); fe != nil {
		// A Pebble goroutine is parked, maybe holding Pebble's locks:
		// waiting for Pebble (or for an operation inside it) could hang.
		// An idle committer ends; a parked one never does.
		s.committer.signalStop()
		return fmt.Errorf("rmq: close %s: %w; Pebble cannot be closed, its files stay open and the directory locked until the process exits", s.path, fe)
	}
	if s.reclaim != nil && !s.waitUnlessFailed(s.reclaim.wait) {
		return fmt.Errorf("rmq: close %s: the reclaimer is stuck inside Pebble after %w; Pebble stays open", s.path, s.failed())
	}
	if !s.waitUnlessFailed(s.ops.Lock) {
		return fmt.Errorf("rmq: close %s: operations are stuck inside Pebble after %w; Pebble stays open", s.path, s.failed())
	}
	defer s.ops.Unlock()
	var err error
	flushed := false
	if !s.readOnly && s.failed() == nil && s.health.flushErr.Load() == nil {
		// Flushing makes the next open skip replaying the log.
		err = s.flush()
		flushed = err == nil
	}
	// Idle now: every operation and the reclaimer ended.
	if !s.waitUnlessFailed(s.committer.close) {
		return fmt.Errorf("rmq: close %s: Pebble's commit is stuck after %w; Pebble stays open", s.path, s.failed())
	}
	if cerr := s.closeDB(); errors.Is(cerr, errPebbleNotClosed) {
		// Pebble's goroutines may still write the directory: it stays
		// locked, so no other Pebble can open it meanwhile.
		return fmt.Errorf("rmq: close %s: %w; the directory stays locked until the process exits", s.path, errors.Join(err, cerr))
	} else if cerr != nil && err == nil {
		err = cerr
	}
	s.mu.Lock()
	for _, c := range s.channels {
		c.vlog.close()
	}
	s.mu.Unlock()
	if s.jnl != nil {
		// After the flush Pebble holds every frame: the segments go.
		if jerr := s.jnl.close(err == nil && flushed); jerr != nil {
			s.health.report("delete the journal after a clean close", jerr)
		}
	}
	if err == nil && flushed {
		s.removeOldLogs()
	}
	// Last: using the file system again would restart its health checker.
	s.closeFiles()
	if err != nil {
		return fmt.Errorf("rmq: close %s: %w", s.path, err)
	}
	return nil
}

// flush flushes the memtable, waiting only while flushes do not fail (a
// failing flush is retried by Pebble forever).
func (s *store) flush() error {
	var done <-chan struct{}
	if err := s.call(func() (err error) {
		done, err = s.db.AsyncFlush()
		return err
	}); err != nil {
		return err
	}
	for {
		changed := s.health.changes()
		if p := s.health.flushErr.Load(); p != nil {
			return fmt.Errorf("flush: %w", *p)
		}
		if err := s.failed(); err != nil {
			return err
		}
		select {
		case <-done:
			return nil
		case <-changed:
		}
	}
}

// closeDB closes Pebble; an error wrapping errPebbleNotClosed says Pebble
// is still open.
func (s *store) closeDB() error {
	var err error
	if !s.waitUnlessFailed(func() { err = s.guard(s.db.Close) }) {
		return fmt.Errorf("%w within %v after the store failed; its files stay open", errPebbleNotClosed, closeFailedWithin)
	}
	return err
}

var errPebbleNotClosed = errors.New("pebble did not close")

// waitUnlessFailed runs fn and waits for it, but once the store has failed
// only for closeFailedWithin: Pebble may then hold goroutines (and its
// locks) forever, after a panic inside it or a log rotation after its log
// failed (see logFile). It reports whether fn returned.
func (s *store) waitUnlessFailed(fn func()) bool {
	if s.failed() == nil {
		fn()
		return true
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	t := time.NewTimer(closeFailedWithin)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// closeFailedWithin bounds each wait of the close of a failed store.
const closeFailedWithin = 10 * time.Second

// removeOldLogs deletes the log files a clean close left behind that
// Pebble no longer needs. Pebble keeps up to five old logs to reuse and
// only deletes them at the next open; after the flush on close every log
// but the newest (the one the flush started) holds only flushed data.
func (s *store) removeOldLogs() {
	if s.walDir != "" {
		return
	}
	names, err := s.fs.List(s.path)
	if err != nil {
		return
	}
	var logs []uint64
	for _, n := range names {
		if num, ok := logNumber(n); ok {
			logs = append(logs, num)
		}
	}
	if len(logs) < 2 {
		return
	}
	newest := slices.Max(logs)
	for _, n := range names {
		if num, ok := logNumber(n); ok && num != newest {
			if err := s.fs.Remove(s.fs.PathJoin(s.path, n)); err != nil {
				s.health.report("remove old log files", err)
			}
		}
	}
}

// logNumber parses Pebble's log file name, "000123.log".
func logNumber(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, ".log")
	if !ok || digits == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

// begin starts an operation that uses db; end it with s.ops.RUnlock.
func (s *store) begin(what string) error {
	s.ops.RLock()
	if s.closed.Load() {
		s.ops.RUnlock()
		return fmt.Errorf("%w: rmq %s: store %s is closed", walimpls.ErrClosed, what, s.path)
	}
	return nil
}

// failed is the sticky write failure, if any.
func (s *store) failed() error { return s.health.failed() }

func (s *store) fail(err error) { s.health.fail(err) }

// writable says whether an append may go to Pebble now: not after a
// failure, and not while flushes fail (the append would fill memtables
// and then block in Pebble's write stall).
func (s *store) writable() error {
	if err := s.failed(); err != nil {
		return err
	}
	return s.health.flushFailing()
}

// guard runs fn, turning a panic inside Pebble into an error (and a
// failed store); see guarded.
func (s *store) guard(fn func() error) error { return guarded(s.health, fn) }

// loadChannelIDs finds the next free channel id.
func (s *store) loadChannelIDs() error {
	return s.eachChannel(func(name string, id uint32) error {
		s.nextID = max(s.nextID, id+1)
		return nil
	})
}

// eachChannel calls fn with every channel of the store, in name order.
func (s *store) eachChannel(fn func(name string, id uint32) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixChannel}, UpperBound: []byte{prefixChannel + 1}})
	if err != nil {
		return fmt.Errorf("%w: rmq: list channels in %s: %w", walimpls.ErrUnavailable, s.path, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("%w: rmq: list channels in %s: %w", walimpls.ErrUnavailable, s.path, err)
		}
		id, err := decodeChannelID(v)
		if err != nil {
			return fmt.Errorf("rmq: channel %q in %s: %w", it.Key()[1:], s.path, err)
		}
		if err := fn(string(it.Key()[1:]), id); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("%w: rmq: list channels in %s: %w", walimpls.ErrUnavailable, s.path, err)
	}
	return nil
}

// channel returns the state of name, recovering its sequence from disk the
// first time it is used. A channel that does not exist is created if
// create (a ReadWrite open), else it is walimpls.ErrNotFound: a ReadOnly
// open never creates one.
func (s *store) channel(name string, create bool) (*channelState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.channels[name]; ok {
		return c, nil
	}
	id, err := s.channelID(name, create)
	if err != nil {
		return nil, err
	}
	c := &channelState{name: name, id: id, changed: make(chan struct{}), memBase: noMemTail, writers: map[int64]int{}}
	if err := s.recover(c); err != nil {
		return nil, err
	}
	s.channels[name] = c
	return c, nil
}

func (s *store) channelID(name string, create bool) (uint32, error) {
	v, closer, err := s.db.Get(channelKey(name))
	if err == nil {
		defer closer.Close() //nolint:errcheck // a Get closer releases a read: nothing to report
		id, err := decodeChannelID(v)
		if err != nil {
			return 0, fmt.Errorf("rmq: channel %q: %w", name, err)
		}
		return id, nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return 0, fmt.Errorf("%w: rmq: look up channel %q in %s: %w", walimpls.ErrUnavailable, name, s.path, err)
	}
	if !create || s.readOnly {
		return 0, fmt.Errorf("%w: rmq: channel %q does not exist in %s (a ReadOnly open never creates one)", walimpls.ErrNotFound, name, s.path)
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
		return 0, fmt.Errorf("rmq: create channel %q in %s: %w", name, s.path, err)
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
	defer closer.Close() //nolint:errcheck // a Get closer releases a read: nothing to report
	return decodeUint64(v, what)
}

// commit writes one batch built by fill and waits for it per opts. A
// failure of the write is sticky.
func (s *store) commit(opts *pebble.WriteOptions, fill func(*pebble.Batch) error) error {
	if err := s.failed(); err != nil {
		return err
	}
	b := s.db.NewBatch()
	if err := fill(b); err != nil {
		_ = b.Close()
		return err
	}
	if err := s.write(b, opts); err != nil {
		if isNotEntered(err) {
			return err
		}
		return fmt.Errorf("%w: rmq: write to %s: %w", walimpls.ErrOutcomeUnknown, s.path, err)
	}
	return nil
}

// channelState is one channel's position, shared by every WAL of it in the
// process. mu orders sequence assignment, term checks and truncation.
type channelState struct {
	name string
	id   uint32

	mu   sync.Mutex
	term int64 // highest term opened ReadWrite (persisted)
	// writers counts the open ReadWrite WALs of each term (Stat's Writer).
	writers map[int64]int
	next    uint64 // sequence of the next append
	first   uint64 // first retained sequence (persisted)
	end     uint64 // every sequence below end is durable and visible to scanners
	// changed is closed and replaced whenever end or first moves, so
	// scanners wait for commits without polling.
	changed chan struct{}
	// vlog holds the channel's large records (its writes are under mu).
	vlog *vlog
	// memTail holds, in a read-only store, the value log pointers of
	// sequences memBase, memBase+1, ... that a crash took from Pebble and
	// recovery could not write back (noMemTail: none). Fixed after open.
	memBase uint64
	memTail []vlogPointer
}

// noMemTail is memBase when every pointer is in Pebble.
const noMemTail = math.MaxUint64

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
