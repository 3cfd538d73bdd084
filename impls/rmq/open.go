package rmq

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqwal/mqwal/walimpls"
)

// ErrLocked: another process (or an earlier, unfinished open in this one)
// holds the data directory's lock. It wraps walimpls.ErrUnavailable.
var ErrLocked = fmt.Errorf("%w: data directory locked", walimpls.ErrUnavailable)

// openGiveUp is how long an open waits for Pebble once a flush of the
// recovered log failed: Pebble retries it forever inside Open, so the open
// returns the failure and leaves Pebble retrying in the background.
var openGiveUp = 2 * time.Second

// probeName is the file an open writes and syncs before Pebble touches the
// directory; probeSize is how much it writes.
const (
	probeName = "rmq-probe.tmp"
	probeSize = 64 << 10
)

// The Pebble instances of this process, by absolute directory: openers of
// one directory share one instance (Pebble's lock admits one per process)
// and its channel state, so fencing holds across them. pending holds the
// opens that returned an error while Pebble was still retrying; the next
// open of the directory waits for them. Both are guarded by storesMu.
var (
	storesMu sync.Mutex
	stores   = map[string]*store{}
	pending  = map[string]*pendingOpen{}
)

// pendingOpen is a pebble.Open that an open gave up on; done is closed
// once it returned and what it opened is closed again.
type pendingOpen struct {
	done  chan struct{}
	err   error // what the open that gave up returned
	fatal bool  // Pebble stopped: done is never closed
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
		if s.readOnly && !b.readOnly {
			return nil, fmt.Errorf("%w: rmq: data directory %s is open read-only in this process (WithReadOnly); close those openers before opening it for writing", walimpls.ErrUnavailable, path)
		}
		s.refs++
		return s, nil
	}
	if p := pending[key]; p != nil {
		if p.fatal {
			return nil, p.err
		}
		t := time.NewTimer(openGiveUp)
		select {
		case <-p.done:
			t.Stop()
			delete(pending, key)
		case <-t.C:
			return nil, fmt.Errorf("an earlier open of this directory still waits for Pebble: %w", p.err)
		}
	}
	s, err := openStore(b, key)
	if err != nil {
		return nil, err
	}
	stores[key] = s
	return s, nil
}

// openStore opens Pebble in b's directory: lock, probe, open, in bounded
// time. Pebble cannot fail an open cleanly when it cannot write: it
// retries the flush of its recovered log forever inside Open (a busy loop
// on a full disk), and a MANIFEST write that fails is fatal. So the lock
// is taken first (its errors are then known to be the lock's), a small
// write is tried before Pebble writes anything, and Open is waited for
// only while Pebble's flushes succeed.
func openStore(b *Builder, key string) (*store, error) {
	path := b.Path()
	h := newHealth(path, b.log())
	opts, fsCloser := b.pebbleOptions(h)
	s := &store{key: key, path: path, readOnly: b.readOnly, health: h, fs: opts.FS, segBytes: b.segBytes, fsCloser: fsCloser, refs: 1, channels: map[string]*channelState{},
		readAheadSlots: make(chan struct{}, readAheadSlotCount())}
	lock, err := s.lockDir(opts.FS)
	if err != nil {
		_ = fsCloser.Close()
		return nil, err
	}
	s.lock = lock
	if !b.readOnly {
		if err := s.probe(); err != nil {
			s.closeFiles()
			return nil, err
		}
	}
	opts.Lock = lock
	db, err := s.openPebble(opts)
	if err != nil {
		return nil, err
	}
	s.db, s.walDir = &pebbleDB{DB: db}, opts.WALDir
	s.committer = startCommitter(s)
	if opts.WALFailover != nil {
		s.walDir = "-" // logs elsewhere too: leave them alone
	}
	window := time.Duration(0)
	if b.syncMode == SyncGroup {
		window = b.groupWindow
	}
	err = s.openJournal(window)
	if err == nil {
		err = s.loadChannelIDs()
	}
	if err != nil {
		s.committer.close()
		if s.jnl != nil {
			s.jnl.closeSegment()
		}
		_ = s.guard(db.Close)
		s.closeFiles()
		return nil, err
	}
	if !s.readOnly {
		s.reclaim = startReclaimer(s)
	}
	return s, nil
}

// lockDir creates the directory (for writing) and takes Pebble's lock,
// which Pebble's Open then uses.
func (s *store) lockDir(fs vfs.FS) (*pebble.Lock, error) {
	if !s.readOnly {
		if err := fs.MkdirAll(s.path, 0o755); err != nil {
			return nil, s.openError("create data directory", err)
		}
	}
	lock, err := pebble.LockDirectory(s.path, fs)
	if err == nil {
		return lock, nil
	}
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		// Creating the LOCK file failed: not a lock held by anyone.
		if s.readOnly && errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: rmq: data directory %s does not exist (opened read-only, so it is not created): %w", walimpls.ErrInvalidArgument, s.path, err)
		}
		return nil, s.openError("create file LOCK", err)
	}
	if strings.Contains(err.Error(), "current process") {
		// Pebble's registry of this process's locks: an earlier Pebble
		// instance of the directory was neither closed nor shared.
		return nil, fmt.Errorf("%w: rmq: data directory %s is held by this process: an earlier open or close of it did not finish (see the error it returned): %w", ErrLocked, s.path, err)
	}
	// fcntl refuses with EAGAIN or EACCES.
	return nil, fmt.Errorf("%w: rmq: data directory %s is held by another process (Pebble's LOCK file): %w", ErrLocked, s.path, err)
}

// probe writes, syncs and removes a small file: a disk that cannot take
// it fails the open here, before Pebble could hang or stop on it.
func (s *store) probe() error {
	name := s.fs.PathJoin(s.path, probeName)
	f, err := s.fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return s.openError("write a probe file", err)
	}
	_, err = f.Write(make([]byte, probeSize))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := s.fs.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return s.openError("write a probe file", err)
	}
	return nil
}

// openPebble runs pebble.Open and waits for it while it can still end:
// until it returns, Pebble stops on a fatal error, or its flush has been
// failing for openGiveUp. It cleans up after itself on every error.
func (s *store) openPebble(opts *pebble.Options) (*pebble.DB, error) {
	type opened struct {
		db  *pebble.DB
		err error
	}
	res := make(chan opened, 1)
	go func() {
		var db *pebble.DB
		err := s.guard(func() (err error) {
			db, err = pebble.Open(s.path, opts)
			return err
		})
		res <- opened{db, err}
	}()
	var giveUp <-chan time.Time
	for {
		// Taken before looking, so no failure goes unnoticed in between.
		changed := s.health.changes()
		if fe := s.health.fatal.Load(); fe != nil {
			// Pebble's goroutine is parked: Open never returns.
			err := s.fatalOpenError(*fe)
			pending[s.key] = &pendingOpen{done: make(chan struct{}), err: err, fatal: true}
			return nil, err
		}
		if giveUp == nil && s.health.flushErr.Load() != nil {
			giveUp = time.After(openGiveUp)
		}
		select {
		case r := <-res:
			if r.err != nil {
				s.closeFiles()
				return nil, s.openError("open", r.err)
			}
			return r.db, nil
		case <-changed:
		case <-giveUp:
			p := s.health.flushErr.Load()
			if p == nil {
				giveUp = nil
				continue
			}
			err := fmt.Errorf("%w: rmq: open data directory %s: Pebble cannot flush the log it recovered: %w (it keeps retrying, at most once a second, until the disk takes it or the process exits)", walimpls.ErrUnavailable, s.path, *p)
			po := &pendingOpen{done: make(chan struct{}), err: err}
			pending[s.key] = po
			go func() {
				if r := <-res; r.db != nil {
					_ = s.guard(r.db.Close)
				}
				s.closeFiles()
				close(po.done)
			}()
			return nil, err
		}
	}
}

func (s *store) fatalOpenError(fe fatalError) error {
	return fmt.Errorf("%w: rmq: open data directory %s: %w; Pebble cannot go on, and this process cannot open the directory again (restart it)", ErrStoreFailed, s.path, fe)
}

// closeFiles releases the lock and the file system wrapper once Pebble is
// closed or did not open.
func (s *store) closeFiles() {
	if s.lock != nil {
		_ = s.lock.Close()
	}
	_ = s.fsCloser.Close()
}

// openError classifies a failure to open s's directory. A path that cannot
// be a data directory (not a directory, no permission, a read-only file
// system) is ErrInvalidArgument: retrying would not help. A disk that
// fails (full, I/O errors) is ErrUnavailable. Every message names the
// directory; only ErrLocked mentions a lock.
func (s *store) openError(what string, err error) error {
	for _, e := range []syscall.Errno{syscall.ENOTDIR, syscall.EACCES, syscall.EPERM, syscall.EROFS, syscall.ENOENT, syscall.EISDIR, syscall.ENAMETOOLONG, syscall.ELOOP} {
		if errors.Is(err, e) {
			return fmt.Errorf("%w: rmq: data directory %s cannot be used: %s: %w", walimpls.ErrInvalidArgument, s.path, what, err)
		}
	}
	return fmt.Errorf("%w: rmq: data directory %s: %s: %w", walimpls.ErrUnavailable, s.path, what, err)
}
