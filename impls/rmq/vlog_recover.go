package rmq

import (
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqwal/mqwal/walimpls"
)

// recoverVlog loads channel c's value log and puts back the pointers a
// crash took from Pebble. c.next is what Pebble knows; it moves past every
// rebuilt pointer.
//
// Why only the newest segment's tail can lack pointers: a batch of value
// log appends is written and fdatasynced, then its pointers are applied to
// Pebble through the journal without a sync, one batch at a time in
// sequence order (appendVlogLocked), and only after every earlier append
// of the channel is durable. Recovery rebuilds a prefix of the journal's
// frames (journal.go), so if anything later of the channel survived in
// Pebble, this pointer did too: the lost
// pointers are the channel's newest ones. Their
// records are the newest records, in the newest segment, because a new
// segment is started only after syncing the journal.
func (s *store) recoverVlog(c *channelState) error {
	v := newVlog(s, c.id)
	c.vlog = v
	segs, err := v.list()
	if err != nil || len(segs) == 0 {
		return err
	}
	v.segs, v.dirMade = segs, true
	newest := segs[len(segs)-1]
	start, err := s.resumeAt(c, newest)
	if err != nil {
		return err
	}
	tail, err := v.scanTail(newest, c.next, start)
	if err != nil {
		return fmt.Errorf("rmq channel %q: %w", c.name, err)
	}
	v.activeOff, v.sealed = tail.end, tail.end < tail.size
	if len(tail.lost) > 0 && s.readOnly {
		c.memBase, c.memTail = c.next, tail.lost
		c.next += uint64(len(tail.lost))
	} else if len(tail.lost) > 0 {
		err := s.commit(pebble.Sync, func(b *pebble.Batch) error {
			for i, p := range tail.lost {
				if err := b.Set(dataKey(c.id, c.next+uint64(i)), appendVlogPointer(nil, p), nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("rmq channel %q: rebuild %d value log pointers: %w", c.name, len(tail.lost), err)
		}
		c.next += uint64(len(tail.lost))
	}
	if len(segs) > 1 && s.reclaim != nil {
		// Segments a truncation emptied before the last close.
		s.reclaim.add(c, c.first, c.first)
	}
	return nil
}

// resumeAt is where the records without a pointer can start in segment
// seg: after the record of the channel's last pointer if that is in seg,
// else at the segment's start. So recovery reads only what follows the
// last pointer Pebble kept, not the whole segment.
func (s *store) resumeAt(c *channelState, seg uint64) (int64, error) {
	if c.next == c.first {
		return 0, nil
	}
	v, closer, err := s.db.Get(dataKey(c.id, c.next-1))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: rmq channel %q: read its last pointer: %w", walimpls.ErrUnavailable, c.name, err)
	}
	defer closer.Close() //nolint:errcheck // a Get closer releases a read: nothing to report
	p, ok, err := parseVlogPointer(v)
	if err != nil || !ok || p.segment != seg {
		return 0, nil // inline, damaged (reads report it) or older: scan it all
	}
	return int64(p.offset) + vlogHeaderLen + int64(p.length), nil
}

// vlogTail is what scanning a segment found: the pointers of the records
// from sequence next on, in order, and where the valid records end.
type vlogTail struct {
	lost      []vlogPointer
	end, size int64
}

// scanTail walks segment seg record by record from offset start (a record
// boundary: 0, or the end of the record of sequence next-1). Records
// below next have their pointers and are only skipped; from next on each
// must be the next
// sequence and pass its crc. The walk stops at the first record that does
// not: a torn or garbled write, or (SyncNone only, after a process crash
// lost un-synced Pebble writes) a record beyond a gap, which no synced
// append ever acknowledged.
func (v *vlog) scanTail(seg, next uint64, start int64) (vlogTail, error) {
	f, err := v.s.fs.Open(v.segPath(seg))
	if err != nil {
		return vlogTail{}, fmt.Errorf("open value log segment: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only: nothing left to report
	st, err := f.Stat()
	if err != nil {
		return vlogTail{}, fmt.Errorf("stat value log segment %s: %w", v.segPath(seg), err)
	}
	t := vlogTail{size: st.Size()}
	var hdr [vlogHeaderLen]byte
	var body []byte
	expect, prev := next, uint64(0)
	if start > 0 && start <= t.size {
		t.end, prev = start, next-1
	}
	for {
		h, ok, err := v.nextHeader(f, hdr[:], t.end, t.size, seg)
		if err != nil || !ok || (t.end > 0 && h.seq <= prev) {
			return t, err
		}
		prev = h.seq
		recEnd := t.end + vlogHeaderLen + int64(h.length)
		if h.seq < next {
			t.end = recEnd
			continue
		}
		if h.seq != expect {
			v.s.health.log.Warn("rmq: value log record follows a gap; cut off, it was never acknowledged",
				"segment", v.segPath(seg), "sequence", h.seq, "offset", t.end, "want", expect)
			return t, nil
		}
		if cap(body) < int(h.length) {
			body = make([]byte, h.length)
		}
		body = body[:h.length]
		if _, err := readFullAt(f, body, t.end+vlogHeaderLen); err != nil {
			return t, fmt.Errorf("read value log %s at %d: %w", v.segPath(seg), t.end, err)
		}
		if h.sealCRC(vlogBodyCRC(body)) != h.crc {
			return t, nil
		}
		t.lost = append(t.lost, vlogPointer{segment: seg, offset: uint64(t.end), length: h.length, crc: h.crc})
		expect++
		t.end = recEnd
	}
}

// nextHeader reads the header at off; ok is false where the valid records
// end (end of file, a short or garbled header, a record running past the
// end, another channel's id, a first record that is not the segment's).
func (v *vlog) nextHeader(f vfs.File, hdr []byte, off, size int64, seg uint64) (vlogHeader, bool, error) {
	if off+vlogHeaderLen > size {
		return vlogHeader{}, false, nil
	}
	if _, err := readFullAt(f, hdr, off); err != nil {
		return vlogHeader{}, false, fmt.Errorf("read value log %s at %d: %w", v.segPath(seg), off, err)
	}
	h, err := parseVlogHeader(hdr)
	if err != nil || h.channel != v.id || h.seq < seg || off+vlogHeaderLen+int64(h.length) > size {
		return h, false, nil
	}
	if off == 0 && h.seq != seg {
		return h, false, nil
	}
	return h, true, nil
}

func readFullAt(f io.ReaderAt, b []byte, off int64) (int, error) {
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return n, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
