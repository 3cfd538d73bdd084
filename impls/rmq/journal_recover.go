package rmq

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// ErrUnknownFormat: the data directory was written by a newer release, in
// a format this one does not know; it is not opened, so nothing of it is
// misread or overwritten.
var ErrUnknownFormat = errors.New("rmq: data directory format unknown to this release")

// formatJournal is the on-disk format this release writes: the journal in
// place of Pebble's log. Format 1 (no format key) is releases before the
// journal: everything in Pebble's log and sstables (and the value log),
// which Pebble replays and flushes when this release opens it.
const formatJournal = 2

// pebbleDB is the store's Pebble database. In a read-only store, overlay
// holds the journal's frames a crash left out of Pebble (a read-only
// Pebble takes no writes): reads go through it.
type pebbleDB struct {
	*pebble.DB
	overlay *pebble.Batch
	// omu serializes reads that start on the overlay: a batch builds its
	// fragmented range deletions lazily, on the first iterator.
	omu sync.Mutex
}

// NewIter reads Pebble, through the overlay if there is one.
func (d *pebbleDB) NewIter(o *pebble.IterOptions) (*pebble.Iterator, error) {
	if d.overlay != nil {
		d.omu.Lock()
		defer d.omu.Unlock()
		return d.overlay.NewIter(o)
	}
	return d.DB.NewIter(o)
}

// Get reads Pebble, through the overlay if there is one.
func (d *pebbleDB) Get(key []byte) ([]byte, io.Closer, error) {
	if d.overlay != nil {
		d.omu.Lock()
		defer d.omu.Unlock()
		return d.overlay.Get(key)
	}
	return d.DB.Get(key)
}

// openJournal checks the directory's format, replays the journal into
// Pebble (into the overlay for a read-only store), and leaves the journal
// ready for writes, which go to a new segment: a segment whose tail was
// cut is never written again.
//
// Recovery: the checkpoint Pebble holds names the newest frame it has (in
// its sstables, flushed in order, or in what replay applied); frames from
// the next seq on are applied in order, segment after segment, up to the
// first that is torn, garbled or zero, or whose seq is not the next one.
// Every frame a synced commit waited for is before that point (the frames
// before a synced one are on disk with it: an fdatasync covers its file,
// and a new segment starts only after the previous one is synced), so
// nothing acknowledged is missed and nothing after a hole is applied.
func (s *store) openJournal(window time.Duration) error {
	j := &journal{s: s, dir: s.fs.PathJoin(s.path, journalDirName), window: window, segBytes: s.segBytes}
	format, err := s.getUint64(formatKey, "format")
	if err != nil {
		return err
	}
	if format > formatJournal {
		return fmt.Errorf("%w: %s has format %d, this release knows up to %d: open it with a newer release", ErrUnknownFormat, s.path, format, formatJournal)
	}
	cp, err := s.checkpoint()
	if err != nil {
		return err
	}
	segs, err := j.list()
	if err != nil {
		return err
	}
	apply := func(b *pebble.Batch) error { return s.guard(func() error { return s.db.Apply(b, pebble.NoSync) }) }
	if s.readOnly {
		s.db.overlay = s.db.DB.NewIndexedBatch()
		apply = func(b *pebble.Batch) error { return s.db.overlay.Apply(b, nil) }
	}
	start := time.Now()
	last, bytes, err := j.replay(cp, segs, apply)
	if err != nil {
		return err
	}
	if last > cp.seq {
		s.health.log.Info("rmq: journal replayed", "dir", s.path, "frames", last-cp.seq, "bytes", bytes, "took", time.Since(start).String())
	}
	j.nextSeq, j.seg = last+1, cp.seg
	for _, seg := range segs {
		if seg >= cp.seg {
			j.segs = append(j.segs, seg)
		}
		j.seg = max(j.seg, seg)
	}
	j.applied = j.seg
	s.jnl = j
	if s.readOnly {
		return nil
	}
	// Segments older than the checkpoint's are all in Pebble's sstables.
	if err := j.removeBelow(cp.seg); err != nil {
		s.health.report("delete old journal segments", err)
	}
	if format < formatJournal {
		b := s.db.NewBatch()
		if err := b.Set(formatKey, encodeUint64(formatJournal), nil); err != nil {
			_ = b.Close()
			return err
		}
		if err := s.write(b, pebble.Sync); err != nil {
			return fmt.Errorf("rmq: %s: write format %d: %w", s.path, formatJournal, err)
		}
	}
	return nil
}

// checkpoint is the journal checkpoint Pebble holds (zero: none, a new
// directory or one written before the journal).
func (s *store) checkpoint() (journalCheckpoint, error) {
	v, closer, err := s.db.Get(journalCheckpointKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return journalCheckpoint{}, nil
	}
	if err != nil {
		return journalCheckpoint{}, fmt.Errorf("rmq: read the journal checkpoint of %s: %w", s.path, err)
	}
	defer closer.Close() //nolint:errcheck // a Get closer releases a read: nothing to report
	return decodeCheckpoint(v)
}

// replayChunk: replay applies frames to Pebble in batches of about this
// size, not one by one.
const replayChunk = 4 << 20

// replay applies the intact frames after cp, in order, and returns the
// seq of the last frame Pebble now has and the bytes of the frames
// applied.
func (j *journal) replay(cp journalCheckpoint, segs []uint64, apply func(*pebble.Batch) error) (last uint64, bytes int64, err error) {
	last = cp.seq
	var chunk *pebble.Batch
	flush := func() error {
		if chunk == nil {
			return nil
		}
		err := apply(chunk)
		chunk = nil
		return err
	}
	for _, seg := range segs {
		if seg < cp.seg {
			continue
		}
		start := int64(0)
		if seg == cp.seg {
			start = int64(cp.off)
		}
		data, err := j.readSegment(seg, start)
		if err != nil {
			return 0, 0, err
		}
		for pos := 0; ; {
			h, ok := parseJournalFrameHeader(data[pos:])
			end := pos + journalFrameHeaderLen + int(h.length)
			if !ok || end > len(data) || !h.check(data[pos+journalFrameHeaderLen:end]) {
				break
			}
			if pos == 0 && seg == cp.seg && h.seq == cp.seq {
				pos = end // the checkpoint's own frame: Pebble has it
				continue
			}
			if h.seq != last+1 {
				break
			}
			b := j.s.db.DB.NewBatch()
			if err := b.SetRepr(data[pos+journalFrameHeaderLen : end]); err != nil {
				return 0, 0, fmt.Errorf("rmq: journal %s frame %d at %d: %w", j.segPath(seg), h.seq, int64(pos)+start, err)
			}
			if chunk == nil {
				chunk = j.s.db.DB.NewBatch()
			}
			if err := chunk.Apply(b, nil); err != nil {
				return 0, 0, fmt.Errorf("rmq: journal %s frame %d at %d: %w", j.segPath(seg), h.seq, int64(pos)+start, err)
			}
			if chunk.Len() >= replayChunk {
				if err := flush(); err != nil {
					return 0, 0, fmt.Errorf("rmq: replay journal %s up to frame %d: %w", j.segPath(seg), h.seq, err)
				}
			}
			last = h.seq
			bytes += int64(end - pos)
			pos = end
		}
	}
	if err := flush(); err != nil {
		return 0, 0, fmt.Errorf("rmq: replay journal up to frame %d: %w", last, err)
	}
	return last, bytes, nil
}

// readSegment reads segment seg from start to its end (nothing if it is
// gone).
func (j *journal) readSegment(seg uint64, start int64) ([]byte, error) {
	f, err := j.s.fs.Open(j.segPath(seg))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rmq: open journal %s: %w", j.segPath(seg), err)
	}
	defer f.Close() //nolint:errcheck // read only: nothing left to report
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("rmq: stat journal %s: %w", j.segPath(seg), err)
	}
	if st.Size() <= start {
		return nil, nil
	}
	data := make([]byte, st.Size()-start)
	if _, err := readFullAt(f, data, start); err != nil {
		return nil, fmt.Errorf("rmq: read journal %s: %w", j.segPath(seg), err)
	}
	return data, nil
}
