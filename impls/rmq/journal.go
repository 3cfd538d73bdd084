package rmq

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The journal is the data directory's write-ahead log, in place of
// Pebble's (Pebble runs with DisableWAL): every batch the store writes to
// Pebble (appends kept inline, value log pointers, truncations, terms,
// channel creation) is first framed into the journal, then applied to
// Pebble's memtable. It is shared by every channel, so one write and one
// fdatasync of a preallocated file serve every append that arrived while
// the previous sync ran, whatever its channel.
//
// Layout: <data dir>/journal/<segment number, 16 hex>.jnl, each a run of
// frames
//
//	magic u32 | length u32 | frame seq u64 | crc32c u32 | Pebble batch repr
//
// (big-endian; the crc covers the length, the frame seq and the repr).
// Frame seqs are consecutive across segments. Each frame's batch also sets
// journalCheckpointKey to where that frame starts and its seq, so the
// checkpoint Pebble holds after a crash (in its flushed sstables: Pebble
// flushes memtables in order) names the last frame already in Pebble;
// replay starts after it (replayJournal).
const (
	journalDirName = "journal"
	journalSuffix  = ".jnl"
	journalMagic   = 0x6d716a6c // "mqjl"
	// journalFrameHeaderLen: magic, length, frame seq, crc.
	journalFrameHeaderLen = 4 + 4 + 8 + 4
	// journalKeepSegments: once the journal holds more segments than this,
	// the reclaimer flushes Pebble and deletes the segments the flush
	// covered. Recovery replays at most the journal since Pebble's last
	// flush: about a memtable (64 MiB), never more than this many segments
	// plus the one being written.
	journalKeepSegments = 2
	// journalKeepBuffer: a write buffer that grew past this is not kept.
	journalKeepBuffer = 4 << 20
)

// journalFrameTarget: a group larger than this is written as several
// frames (in the same write), so no frame nears the 4 GiB its length field
// can say (Pebble refuses a batch that large). A variable for tests.
var journalFrameTarget = 64 << 20

// journal is the store's write-ahead log. Batches join the pending group;
// the first committer that finds no flush running becomes the leader: it
// writes the whole group as one frame (one WriteAt), fdatasyncs it if any
// batch of the group asked for a sync, applies it to Pebble without
// Pebble's log, wakes the group, and hands the leading to a committer of
// the group that queued meanwhile (lead).
// No timer window but SyncGroup's: a lone committer pays one write and one
// fdatasync.
type journal struct {
	s   *store
	dir string
	// window: SyncGroup's wait between a sync and the next (0: none).
	window time.Duration

	mu       sync.Mutex
	pending  *journalGroup
	flushing bool
	// segs are the segment numbers on disk, ascending (guarded by mu, since
	// the reclaimer deletes from its front).
	segs []uint64
	// applied is the segment of the newest frame applied to Pebble
	// (guarded by mu): a flush of Pebble started after it covers every
	// frame of older segments.
	applied uint64

	// Owned by the leader (the flushing token).
	f        vfs.File // segment being written; nil until the first write after open
	seg      uint64   // its number
	off      int64    // where its next frame goes
	prealloc int64    // its file size: frames, then zeros
	dirty    bool     // f holds writes not yet fdatasynced
	nextSeq  uint64   // seq of the next frame
	lastSync time.Time
	wbuf     []byte
	frames   []*pebble.Batch
	// mostFrames is the most frames one group took (tests read it).
	mostFrames int
	segBytes   int64
}

// journalGroup is the batches committed while the previous group was
// being written: one frame, one fdatasync, one apply to Pebble.
type journalGroup struct {
	groupTurn
	batches []*pebble.Batch
	sync    bool
}

func (j *journal) segPath(seg uint64) string { return segmentPath(j.s.fs, j.dir, seg, journalSuffix) }

// list returns the segment numbers on disk, ascending.
func (j *journal) list() ([]uint64, error) {
	return listSegments(j.s.fs, j.dir, journalSuffix, "journal")
}

// enqueue adds b to the pending group, in the order of calls: a caller
// that needs an order between its batches (a channel's sequences) enqueues
// under its lock. Wait for it with wait.
func (j *journal) enqueue(b *pebble.Batch, sync bool) *journalGroup {
	j.mu.Lock()
	defer j.mu.Unlock()
	g := j.pending
	if g == nil {
		g = &journalGroup{groupTurn: newGroupTurn()}
		j.pending = g
	}
	g.batches = append(g.batches, b)
	g.sync = g.sync || sync
	return g
}

// wait returns once g is in the journal (fdatasynced if any of its batches
// asked for it) and applied to Pebble, leading the flushes itself if no
// one does or if the leader before hands them over. A notEntered error
// says nothing of g was written.
func (j *journal) wait(g *journalGroup) error {
	j.mu.Lock()
	if j.flushing {
		j.mu.Unlock()
		if g.await() {
			return g.err
		}
		j.mu.Lock()
	}
	j.flushing = true
	j.lead(g)
	return g.err
}

// lead flushes the pending groups, holding the flushing token, until g is
// flushed, then passes the token on (groupTurn). j.mu is held on entry and
// released on return.
func (j *journal) lead(g *journalGroup) {
	// Until g is flushed, only the token's holder takes groups: g is
	// still the pending group.
	for !g.flushed() {
		if j.window > 0 && j.pending.sync {
			if d := j.window - time.Since(j.lastSync); d > 0 {
				j.mu.Unlock()
				time.Sleep(d) // SyncGroup: let more join this sync
				j.mu.Lock()
			}
		}
		fg := j.pending
		j.pending = nil
		j.mu.Unlock()
		fg.finish(j.flush(fg))
		j.mu.Lock()
	}
	if j.pending != nil {
		j.pending.pass()
	} else {
		j.flushing = false
	}
	j.mu.Unlock()
}

// commit writes b through the journal and waits for it.
func (j *journal) commit(b *pebble.Batch, sync bool) error {
	return j.wait(j.enqueue(b, sync))
}

// flush writes g as one frame, syncs it if asked, and applies it to
// Pebble. Any failure after the first byte may have reached the disk
// fails the store: what follows it in the journal could otherwise be
// acknowledged and then lost behind a hole.
func (j *journal) flush(g *journalGroup) error {
	s := j.s
	if err := s.failed(); err != nil {
		return notEntered{err}
	}
	if j.f == nil || j.off >= j.segBytes {
		if err := j.roll(); err != nil {
			s.fail(err)
			return err
		}
	}
	// Each frame is a batch with the batches after it appended, up to
	// journalFrameTarget bytes (one batch may be larger), then the
	// checkpoint: where the frame starts and its seq.
	frames := j.frames[:0]
	j.wbuf = j.wbuf[:0]
	seq, off := j.nextSeq, j.off
	for i := 0; i < len(g.batches); seq++ {
		b := g.batches[i]
		for i++; i < len(g.batches) && b.Len()+g.batches[i].Len() <= journalFrameTarget; i++ {
			if err := b.Apply(g.batches[i], nil); err != nil {
				return notEntered{fmt.Errorf("rmq: journal: combine batches: %w", err)}
			}
		}
		cp := journalCheckpoint{seg: j.seg, off: uint64(off) + uint64(len(j.wbuf)), seq: seq}
		if err := b.Set(journalCheckpointKey, encodeCheckpoint(cp), nil); err != nil {
			return notEntered{fmt.Errorf("rmq: journal: checkpoint: %w", err)}
		}
		j.wbuf = appendJournalFrame(j.wbuf, seq, b.Repr())
		frames = append(frames, b)
	}
	j.frames = frames
	j.mostFrames = max(j.mostFrames, len(frames))
	if _, err := j.f.WriteAt(j.wbuf, off); err != nil {
		return j.failed(fmt.Errorf("write journal %s: %w", j.segPath(j.seg), err))
	}
	j.off += int64(len(j.wbuf))
	j.nextSeq = seq
	if cap(j.wbuf) > journalKeepBuffer {
		j.wbuf = nil
	}
	preallocZeros(j.f, &j.prealloc, off, j.off, j.segBytes)
	j.dirty = true
	if g.sync {
		if err := j.f.SyncData(); err != nil {
			return j.failed(fmt.Errorf("sync journal %s: %w", j.segPath(j.seg), err))
		}
		j.dirty = false
		if j.window > 0 {
			j.lastSync = time.Now()
		}
	}
	err := s.call(func() error {
		for _, b := range frames {
			if err := s.db.Apply(b, pebble.NoSync); err != nil {
				return err
			}
		}
		return nil
	})
	clear(j.frames)
	if err != nil {
		if !isNotEntered(err) {
			s.fail(err)
		}
		return fmt.Errorf("apply the journal's frames %d to %d to Pebble: %w", j.nextSeq-uint64(len(frames)), j.nextSeq-1, err)
	}
	j.mu.Lock()
	j.applied = j.seg
	j.mu.Unlock()
	return nil
}

// failed fails the store on a write or sync of the journal and returns the
// error; the next write goes to a new segment (a reopen would start one
// anyway).
func (j *journal) failed(err error) error {
	j.s.fail(err)
	j.closeSegment()
	return err
}

// roll starts the next segment. The one before is fdatasynced first if it
// holds unsynced frames: replay stops at the first hole, so a synced frame
// of the new segment must not survive a crash that loses an older one.
func (j *journal) roll() error {
	if j.f != nil && j.dirty {
		if err := j.f.SyncData(); err != nil {
			return fmt.Errorf("sync journal %s before the next segment: %w", j.segPath(j.seg), err)
		}
		j.dirty = false
	}
	j.closeSegment()
	if err := j.s.fs.MkdirAll(j.dir, 0o755); err != nil {
		return fmt.Errorf("create journal directory: %w", err)
	}
	seg := j.seg + 1
	f, err := j.s.fs.Create(j.segPath(seg), vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("create journal segment: %w", err)
	}
	// The directory entries (the segment's, and the journal directory's
	// on the first roll) must be durable before a sync of the segment
	// acknowledges anything.
	for _, d := range []string{j.s.path, j.dir} {
		if err := syncDir(j.s.fs, d); err != nil {
			_ = f.Close()
			return err
		}
	}
	j.f, j.seg, j.off, j.prealloc = f, seg, 0, 0
	j.mu.Lock()
	j.segs = append(j.segs, seg)
	many := len(j.segs) > journalKeepSegments
	j.mu.Unlock()
	if many && j.s.reclaim != nil {
		j.s.reclaim.poke()
	}
	return nil
}

// closeSegment trims and closes the segment being written.
func (j *journal) closeSegment() {
	if j.f == nil {
		return
	}
	trimZeros(j.f, j.prealloc, j.off)
	_ = j.f.Close()
	j.f = nil
}

// collect deletes the segments Pebble no longer needs: once more than
// journalKeepSegments exist, it flushes Pebble (which then holds every
// frame applied before the flush, and a checkpoint at least that new) and
// deletes the segments older than the one of the newest frame applied
// before the flush started.
func (j *journal) collect() error {
	j.mu.Lock()
	upTo, n := j.applied, len(j.segs)
	j.mu.Unlock()
	if n <= journalKeepSegments {
		return nil
	}
	if j.s.health.flushErr.Load() != nil {
		return nil // the reclaimer's next round tries again
	}
	if err := j.s.flush(); err != nil {
		return fmt.Errorf("flush before deleting journal segments: %w", err)
	}
	return j.removeBelow(upTo)
}

// removeBelow deletes the segments numbered below upTo.
func (j *journal) removeBelow(upTo uint64) error {
	j.mu.Lock()
	n := 0
	for n < len(j.segs) && j.segs[n] < upTo {
		n++
	}
	dead := slices.Clone(j.segs[:n])
	j.segs = slices.Delete(j.segs, 0, n)
	j.mu.Unlock()
	var first error
	for _, seg := range dead {
		if err := j.s.fs.Remove(j.segPath(seg)); err != nil && !errors.Is(err, os.ErrNotExist) && first == nil {
			first = fmt.Errorf("delete journal segment %s: %w", j.segPath(seg), err)
		}
	}
	return first
}

// close closes the segment being written; after a clean flush of Pebble
// (flushed) every segment is deleted: Pebble holds all of it.
func (j *journal) close(flushed bool) error {
	j.closeSegment()
	if !flushed {
		return nil
	}
	return j.removeBelow(j.seg + 1)
}
