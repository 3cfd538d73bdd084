package rmq

import (
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// vlogBufMax: record buffers up to this size are reused.
const vlogBufMax = 4 << 20

var vlogBufs sync.Pool

func getVlogBuf(n int) *[]byte {
	if p, ok := vlogBufs.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n)
	return &b
}

func putVlogBuf(p *[]byte) {
	if cap(*p) <= vlogBufMax {
		vlogBufs.Put(p)
	}
}

// vlogBatch is the records appended to a channel's value log while the
// previous batch was being written and synced: one write and one
// fdatasync cover them all. There is no timer window: a batch holds
// exactly what arrived during the previous flush, so a lone appender pays
// one write and one fdatasync and waits for nothing else.
type vlogBatch struct {
	first uint64   // sequence of recs[0]
	recs  [][]byte // whole records, headers sealed; owned by their appenders until done
	crcs  []uint32 // each record's crc, for its pointer
	groupTurn
}

// appendLarge stores a record of at least the threshold in the channel's
// value log and only a pointer to it in Pebble: the bytes are written once
// and fdatasynced once, as a plain log file would, instead of going through
// the journal and again into an sstable.
func (w *wal) appendLarge(msg message.MutableMessage, size int) (message.MessageID, error) {
	buf := getVlogBuf(vlogHeaderLen + size)
	defer putVlogBuf(buf)
	rec := *buf
	// Encode and checksum the body before taking the channel lock.
	message.EncodeRecord(rec[vlogHeaderLen:vlogHeaderLen], msg.Payload(), msg.Properties())
	crc := vlogBodyCRC(rec[vlogHeaderLen:])
	w.ch.mu.Lock()
	if err := w.checkLocked("append"); err != nil {
		w.ch.mu.Unlock()
		return nil, err
	}
	seq, err := w.appendVlogLocked(rec, crc)
	if err != nil {
		return nil, err
	}
	return helper.NewInt64ID(Name, int64(seq)), nil
}

// appendVlogLocked queues rec (header space followed by the body whose crc
// is bodyCRC) as the channel's next sequence and returns once it is written
// (and with a synced mode fdatasynced) and its pointer applied. The caller
// holds the channel lock and has checked the WAL may append; the lock is
// released on return.
//
// The first appender to find no flush running flushes, batch after batch,
// until its own batch is flushed (a lone appender leads its own batch, so
// no goroutine hand-off is on its path), then passes the flushing on as
// the journal does (groupTurn); the others wait for their batch.
func (w *wal) appendVlogLocked(rec []byte, bodyCRC uint32) (uint64, error) {
	c := w.ch
	v := c.vlog
	seq := c.next
	b := v.pending
	if b == nil {
		b = &vlogBatch{first: seq, groupTurn: newGroupTurn()}
		v.pending = b
	}
	h := vlogHeader{channel: v.id, seq: seq, length: uint32(len(rec) - vlogHeaderLen)}
	h.crc = h.sealCRC(bodyCRC)
	putVlogHeader(rec, h)
	b.recs = append(b.recs, rec)
	b.crcs = append(b.crcs, h.crc)
	c.next++
	if v.flushing {
		c.mu.Unlock()
		if b.await() {
			return seq, b.err
		}
		c.mu.Lock()
	}
	v.flushing = true
	// Until b is flushed, only the token's holder takes batches: b is
	// still the pending batch.
	for !b.flushed() {
		fb := v.pending
		v.pending = nil
		err := w.flushBatch(fb)
		if err == nil {
			c.durableLocked(fb.first + uint64(len(fb.recs)) - 1)
		}
		fb.finish(err)
	}
	if v.pending != nil {
		v.pending.pass()
	} else {
		v.flushing = false
	}
	c.mu.Unlock()
	return seq, b.err
}

// flushBatch writes b to the value log and applies its pointers. The caller
// holds the channel lock and the flushing token (v.flushing); the lock is
// let go while the batch is written and synced, so the next batch fills
// meanwhile.
//
// The order is what makes a crash safe (see recoverVlog): every earlier
// append of the channel durable first (one that went through the journal
// is synced there), then the batch durable in the value log, then its
// pointers into the journal without a sync. The ack does not wait for the
// pointers to be durable, because recovery rebuilds lost ones.
func (w *wal) flushBatch(b *vlogBatch) error {
	c, s := w.ch, w.opener.store
	v := c.vlog
	if err := s.failed(); err != nil {
		return err // nothing of the batch was written
	}
	sync := w.opener.write.Sync
	// A smaller append's fsync in the journal may still be running. Its
	// record must not be lost while this batch survives: that would be a gap.
	earlier := sync && c.end < b.first
	if err := v.writable(b.first); err != nil {
		return w.failLarge(b, "value log", err)
	}
	seg, off := v.segs[len(v.segs)-1], v.activeOff
	c.mu.Unlock()
	n, err := w.writeBatch(b, seg, off, earlier, sync)
	c.mu.Lock()
	if err != nil {
		if n > 0 {
			v.sealed = true
		}
		return err
	}
	v.activeOff = off + n
	return nil
}

// writeBatch does flushBatch's I/O, without the channel lock; it returns
// how many bytes went to the value log.
func (w *wal) writeBatch(b *vlogBatch, seg uint64, off int64, earlier, sync bool) (int64, error) {
	s := w.opener.store
	v := w.ch.vlog
	if earlier {
		if err := s.syncLog(); err != nil {
			if isNotEntered(err) {
				return 0, err // nothing of the batch was written
			}
			return 0, w.failLarge(b, "sync earlier appends", err)
		}
	}
	data := b.recs[0]
	if len(b.recs) > 1 {
		v.wbuf = v.wbuf[:0]
		for _, r := range b.recs {
			v.wbuf = append(v.wbuf, r...)
		}
		data = v.wbuf
	}
	n := int64(len(data))
	if _, err := v.active.WriteAt(data, off); err != nil {
		return n, w.failLarge(b, "value log", fmt.Errorf("write value log %s: %w", v.segPath(seg), err))
	}
	v.preallocate(off + n)
	if sync {
		if err := v.active.SyncData(); err != nil {
			return n, w.failLarge(b, "value log", fmt.Errorf("sync value log %s: %w", v.segPath(seg), err))
		}
	}
	pb := s.db.NewBatch()
	at := uint64(off)
	for i, r := range b.recs {
		p := vlogPointer{segment: seg, offset: at, length: uint32(len(r) - vlogHeaderLen), crc: b.crcs[i]}
		if err := pb.Set(dataKey(v.id, b.first+uint64(i)), appendVlogPointer(nil, p), nil); err != nil {
			_ = pb.Close()
			return n, w.failLarge(b, "pointer", err)
		}
		at += uint64(len(r))
	}
	if err := s.write(pb, pebble.NoSync); err != nil {
		return n, w.failLarge(b, "pointer", err)
	}
	return n, nil
}

// failLarge makes a failed write sticky, as a failed Pebble sync is: the
// records may or may not be on disk, and nothing may follow them.
func (w *wal) failLarge(b *vlogBatch, what string, err error) error {
	w.opener.store.fail(err)
	last := b.first + uint64(len(b.recs)) - 1
	return fmt.Errorf("%w: rmq channel %q in %s: write sequences %d to %d (%s): %w", walimpls.ErrOutcomeUnknown, w.ch.name, w.opener.store.path, b.first, last, what, err)
}
