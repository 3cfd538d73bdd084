package rmq

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

const (
	// vlogDirName is the value log's directory inside the data directory.
	vlogDirName = "vlog"
	// vlogSegmentBytes: a segment that has reached this size gets no more
	// records; the next one goes to a new segment.
	vlogSegmentBytes = 64 << 20
	// vlogMaxReaders bounds the read handles a channel keeps open.
	vlogMaxReaders = 8
	vlogSuffix     = ".vlog"
	// vlogPreallocBytes: the segment being written is kept this far ahead
	// of its records with zeros (see preallocate).
	vlogPreallocBytes = 1 << 20
	// vlogPreallocMaxBatch: batches larger than this do not preallocate.
	vlogPreallocMaxBatch = 32 << 10
)

// zeros is what preallocate writes.
var zeros = make([]byte, vlogPreallocBytes)

// vlog is one channel's value log: segment files named by the first
// sequence written to them, each a run of records in sequence order.
// Writes and the segment list are guarded by the channel's mu; reads take
// only rmu, so scanners never wait for an appender's fsync.
type vlog struct {
	s   *store
	id  uint32
	dir string

	// Guarded by the channel's mu.
	segs      []uint64 // first sequences, ascending; the last one is written to
	active    vfs.File // open for writing; nil until the first write after open
	activeOff int64    // where the next record of the last segment goes
	// sealed: the last segment may end in garbage (a torn write, or records
	// recovery cut off), so the next record goes to a new segment rather
	// than after it.
	sealed  bool
	dirMade bool
	// prealloc: the active segment's file size (records, then zeros).
	prealloc int64

	// The group commit (appendVlogLocked). pending and flushing are
	// guarded by the channel's mu; flushing is the token that lets one
	// goroutine write the active segment (active, activeOff, wbuf) while
	// the lock is let go.
	pending  *vlogBatch
	flushing bool
	wbuf     []byte

	rmu     sync.Mutex
	readers map[uint64]*segReader
	closed  bool
}

// segReader is a shared read handle; it is closed once dropped from the
// cache and no read uses it any more.
type segReader struct {
	f       vfs.File
	refs    int
	dropped bool
}

func newVlog(s *store, id uint32) *vlog {
	return &vlog{s: s, id: id, dir: s.fs.PathJoin(s.path, vlogDirName, fmt.Sprintf("%08x", id)), readers: map[uint64]*segReader{}}
}

func (v *vlog) segPath(first uint64) string { return segmentPath(v.s.fs, v.dir, first, vlogSuffix) }

// list returns the first sequences of the segments on disk, ascending.
func (v *vlog) list() ([]uint64, error) { return listSegments(v.s.fs, v.dir, vlogSuffix, "value log") }

// segmentPath names segment n (16 hex digits) in dir.
func segmentPath(fs vfs.FS, dir string, n uint64, suffix string) string {
	return fs.PathJoin(dir, fmt.Sprintf("%016x%s", n, suffix))
}

// listSegments returns the numbers of the segments (segmentPath names) in
// dir, ascending; a missing dir has none.
func listSegments(fs vfs.FS, dir, suffix, what string) ([]uint64, error) {
	names, err := fs.List(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rmq: list %s %s: %w", what, dir, err)
	}
	var segs []uint64
	for _, n := range names {
		hex, ok := strings.CutSuffix(n, suffix)
		if !ok || len(hex) != 16 {
			continue // not ours
		}
		seg, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, seg)
	}
	slices.Sort(segs)
	return segs, nil
}

// writable makes sure a segment is open for a record of sequence seq.
func (v *vlog) writable(seq uint64) error {
	if v.sealed || len(v.segs) == 0 || v.activeOff >= v.s.segBytes {
		return v.roll(seq)
	}
	if v.active == nil {
		f, err := v.s.fs.OpenReadWrite(v.segPath(v.segs[len(v.segs)-1]), vfs.WriteCategoryUnspecified)
		if err != nil {
			return fmt.Errorf("open value log for writing: %w", err)
		}
		v.active = f
		// Not sealed: the file ends where its records end.
		v.prealloc = v.activeOff
	}
	return nil
}

// preallocate keeps the active segment's file vlogPreallocBytes ahead of
// its records (end), up to the segment size, by writing zeros after them,
// in the same write and fdatasync as the records. An fdatasync that
// changes the file's size also commits the file system's metadata
// journal; one that only overwrites allocated blocks does not, and costs
// up to half as much. So one fdatasync per MiB pays the metadata, the
// others do not. Zeros, not fallocate: ext4's fallocate leaves unwritten
// extents whose conversion on first write is again a metadata commit.
//
// Every byte is written twice, as a zero and then as a record: nothing
// next to an fdatasync of a small batch, but for batches above
// vlogPreallocMaxBatch (256 KiB records: 0.97 of a raw file with zeros)
// the bandwidth counts more than the metadata commit, and the file just
// grows with them. Recovery reads a zero
// header as the end of the records (a crash that tore the zeros' write
// leaves the same), and the next record then goes to a new segment.
func (v *vlog) preallocate(end int64) {
	preallocZeros(v.active, &v.prealloc, v.activeOff, end, v.s.segBytes)
}

// preallocZeros is preallocate for any segment file f whose batch
// [start, end) was just written, given its file size *prealloc and its
// size limit; the journal's segments use it too.
func preallocZeros(f vfs.File, prealloc *int64, start, end, limit int64) {
	if end < *prealloc {
		return
	}
	*prealloc = end
	if end >= limit || end-start > vlogPreallocMaxBatch {
		return
	}
	target := min(end+vlogPreallocBytes, limit)
	if _, err := f.WriteAt(zeros[:target-end], end); err != nil {
		// Zeros are an optimisation: a disk too full for them may still
		// take the records. Not again in this segment.
		*prealloc = max(target, limit)
		return
	}
	*prealloc = target
}

// trim cuts the zeros preallocate wrote after the last record of the
// active segment, before it is closed (best effort: they are harmless, and
// a file system without a descriptor keeps them).
func (v *vlog) trim() { trimZeros(v.active, v.prealloc, v.activeOff) }

// trimZeros cuts f, whose size is prealloc, to end.
func trimZeros(f vfs.File, prealloc, end int64) {
	if prealloc > end && f.Fd() != vfs.InvalidFd {
		_ = unix.Ftruncate(int(f.Fd()), end)
	}
}

// roll starts a new segment whose first record is seq.
func (v *vlog) roll(seq uint64) error {
	if len(v.segs) > 0 {
		// Recovery scans only the newest segment, so every pointer into the
		// older ones must be durable before a newer one exists.
		if err := v.s.syncLog(); err != nil {
			return fmt.Errorf("sync pointers before a new value log segment: %w", err)
		}
	}
	if v.active != nil {
		v.trim()
		err := v.active.Close()
		v.active = nil
		if err != nil {
			return fmt.Errorf("close value log segment: %w", err)
		}
	}
	if err := v.makeDir(); err != nil {
		return err
	}
	f, err := v.s.fs.Create(v.segPath(seq), vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("create value log segment: %w", err)
	}
	if err := syncDir(v.s.fs, v.dir); err != nil {
		_ = f.Close()
		return err
	}
	if n := len(v.segs); n > 0 && v.segs[n-1] == seq {
		// A sealed segment holding nothing valid was replaced by a new file.
		v.dropReader(seq)
	} else {
		v.segs = append(v.segs, seq)
	}
	v.active, v.activeOff, v.sealed, v.prealloc = f, 0, false, 0
	return nil
}

// makeDir creates the channel's directory and makes its entries durable.
func (v *vlog) makeDir() error {
	if v.dirMade {
		return nil
	}
	if err := v.s.fs.MkdirAll(v.dir, 0o755); err != nil {
		return fmt.Errorf("create value log directory: %w", err)
	}
	for _, d := range []string{v.s.path, v.s.fs.PathDir(v.dir)} {
		if err := syncDir(v.s.fs, d); err != nil {
			return err
		}
	}
	v.dirMade = true
	return nil
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to sync it: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// read returns the body of sequence seq at p, checked against its header
// and the pointer; any mismatch is an error wrapping errVlogRecord. With a
// span, the body aliases the span's buffer (valid until its next use), and
// records that follow each other in a segment are read in one call of up
// to vlogSpanBytes: a scan reads the value log sequentially, not record by
// record.
func (v *vlog) read(seq uint64, p vlogPointer, sp *vlogSpan) ([]byte, error) {
	need := vlogHeaderLen + int(p.length)
	var buf []byte
	if sp != nil && sp.seg == p.segment && p.offset >= sp.off && p.offset+uint64(need) <= sp.off+uint64(len(sp.buf)) {
		buf = sp.buf[p.offset-sp.off:][:need]
	} else {
		r, err := v.acquire(p.segment)
		if err != nil {
			return nil, err
		}
		if sp != nil && need < vlogSpanBytes {
			sp.buf = sp.buf[:cap(sp.buf)]
			if len(sp.buf) < vlogSpanBytes {
				sp.buf = make([]byte, vlogSpanBytes)
			}
			var n int
			n, err = r.f.ReadAt(sp.buf, int64(p.offset))
			if n >= need {
				err = nil
			} else if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			sp.seg, sp.off, sp.buf = p.segment, p.offset, sp.buf[:n]
			buf = sp.buf[:min(n, need)]
		} else {
			buf = make([]byte, need)
			_, err = readFullAt(r.f, buf, int64(p.offset))
		}
		v.release(r)
		if err != nil {
			if sp != nil {
				sp.buf = sp.buf[:0]
			}
			return nil, fmt.Errorf("read value log segment %016x at %d: %w", p.segment, p.offset, err)
		}
	}
	h, body, err := decodeVlogRecord(buf)
	if err != nil {
		return nil, fmt.Errorf("segment %016x at %d: %w", p.segment, p.offset, err)
	}
	if h.channel != v.id || h.seq != seq || h.crc != p.crc {
		return nil, fmt.Errorf("%w: segment %016x at %d holds channel id %d sequence %d (crc %08x), the pointer wants channel id %d sequence %d (crc %08x)",
			errVlogRecord, p.segment, p.offset, h.channel, h.seq, h.crc, v.id, seq, p.crc)
	}
	return body, nil
}

// vlogSpanBytes is how much of a segment one read of a scan takes.
const vlogSpanBytes = 1 << 20

// vlogSpan is a scan's window on a segment.
type vlogSpan struct {
	seg, off uint64
	buf      []byte
}

func (v *vlog) acquire(seg uint64) (*segReader, error) {
	v.rmu.Lock()
	defer v.rmu.Unlock()
	if r, ok := v.readers[seg]; ok {
		r.refs++
		return r, nil
	}
	if v.closed {
		return nil, fmt.Errorf("value log of channel id %d is closed", v.id)
	}
	f, err := v.s.fs.Open(v.segPath(seg))
	if err != nil {
		return nil, fmt.Errorf("open value log segment: %w", err)
	}
	if len(v.readers) >= vlogMaxReaders {
		// Scans move forward: the lowest segment is the least likely next.
		v.dropReaderLocked(slices.Min(slices.Collect(maps.Keys(v.readers))))
	}
	r := &segReader{f: f, refs: 1}
	v.readers[seg] = r
	return r, nil
}

func (v *vlog) release(r *segReader) {
	v.rmu.Lock()
	defer v.rmu.Unlock()
	r.refs--
	if r.dropped && r.refs == 0 {
		_ = r.f.Close()
	}
}

func (v *vlog) dropReader(seg uint64) {
	v.rmu.Lock()
	defer v.rmu.Unlock()
	v.dropReaderLocked(seg)
}

func (v *vlog) dropReaderLocked(seg uint64) {
	r, ok := v.readers[seg]
	if !ok {
		return
	}
	delete(v.readers, seg)
	r.dropped = true
	if r.refs == 0 {
		_ = r.f.Close()
	}
}

// takeDead removes from the list the segments that hold only sequences
// below first and returns them; the last segment always stays. The caller
// holds the channel's mu.
func (v *vlog) takeDead(first uint64) []uint64 {
	n := 0
	for n+1 < len(v.segs) && v.segs[n+1] <= first {
		n++
	}
	dead := slices.Clone(v.segs[:n])
	v.segs = slices.Delete(v.segs, 0, n)
	return dead
}

// remove deletes segments taken by takeDead or dropAll. The file goes first, so a
// reader racing with it either gets a handle that is then closed or fails
// to open (and reports the truncation).
func (v *vlog) remove(segs []uint64) error {
	var first error
	for _, seg := range segs {
		if err := v.s.fs.Remove(v.segPath(seg)); err != nil && !errors.Is(err, os.ErrNotExist) && first == nil {
			first = fmt.Errorf("rmq: delete value log segment %s: %w", v.segPath(seg), err)
		}
		v.dropReader(seg)
	}
	return first
}

// dropAll deletes every segment, the one being written included: every
// record is truncated, and the truncation durable. It runs under the
// channel's mu (unlike remove): the next record may start a segment of the
// same name, which must not be deleted in its place. The next write rolls
// to a new segment without syncing the journal first, as there is no
// older pointer left to protect.
func (v *vlog) dropAll() error {
	var first error
	if v.active != nil {
		first = v.active.Close()
		v.active = nil
	}
	segs := v.segs
	v.segs, v.activeOff, v.sealed, v.prealloc = nil, 0, false, 0
	if err := v.remove(segs); first == nil {
		first = err
	}
	return first
}

// close closes every handle; the store is closing and nothing uses it.
func (v *vlog) close() {
	if v.active != nil {
		v.trim()
		_ = v.active.Close()
		v.active = nil
	}
	v.rmu.Lock()
	defer v.rmu.Unlock()
	v.closed = true
	for seg := range v.readers {
		v.dropReaderLocked(seg)
	}
}
