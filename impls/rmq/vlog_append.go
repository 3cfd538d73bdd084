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

// appendLarge stores a record of at least the threshold in the channel's
// value log and only a pointer to it in Pebble: the bytes are written once
// and fdatasynced once, as a plain log file would, instead of going through
// Pebble's log and again into an sstable.
func (w *wal) appendLarge(msg message.MutableMessage, size int) (message.MessageID, error) {
	buf := getVlogBuf(vlogHeaderLen + size)
	defer putVlogBuf(buf)
	rec := *buf
	// Encode and checksum the body before taking the channel lock.
	message.EncodeRecord(rec[vlogHeaderLen:vlogHeaderLen], msg.Payload(), msg.Properties())
	seq, err := w.applyLarge(rec, vlogBodyCRC(rec[vlogHeaderLen:]))
	if err != nil {
		return nil, err
	}
	return helper.NewInt64ID(Name, int64(seq)), nil
}

// applyLarge writes the record and its pointer under the channel lock, so
// large appends of a channel serialize (they do not share fsyncs the way
// small ones do: each pays its own fdatasync, like a plain file).
//
// The order is what makes a crash safe (see recoverVlog): earlier appends
// of the channel durable first, then this record durable in the value log,
// then its pointer into Pebble's log without a sync. The ack does not wait
// for the pointer to be durable, because recovery rebuilds a lost one.
func (w *wal) applyLarge(rec []byte, bodyCRC uint32) (uint64, error) {
	c, s := w.ch, w.opener.store
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := w.checkLocked("append"); err != nil {
		return 0, err
	}
	seq := c.next
	sync := w.opener.write.Sync
	if sync && c.end < c.next {
		// A smaller append's fsync is still running. Its record must not
		// be lost while this one survives: that would be a gap.
		if err := s.syncLog(); err != nil {
			if isNotEntered(err) {
				return 0, err // nothing of this append was written
			}
			return 0, w.failLarge(seq, "sync earlier appends", err)
		}
	}
	p, err := c.vlog.write(seq, rec, bodyCRC, sync)
	if err != nil {
		return 0, w.failLarge(seq, "value log", err)
	}
	b := s.db.NewBatch()
	if err := b.Set(dataKey(c.id, seq), appendVlogPointer(nil, p), nil); err != nil {
		_ = b.Close()
		return 0, fmt.Errorf("rmq channel %q: %w", c.name, err)
	}
	if err := s.write(b, pebble.NoSync); err != nil {
		return 0, w.failLarge(seq, "pointer", err)
	}
	c.next++
	c.durableLocked(seq)
	return seq, nil
}

// failLarge makes a failed write sticky, as a failed Pebble sync is: the
// record may or may not be on disk, and nothing may follow it.
func (w *wal) failLarge(seq uint64, what string, err error) error {
	w.opener.store.fail(err)
	return fmt.Errorf("%w: rmq channel %q in %s: write sequence %d (%s): %w", walimpls.ErrOutcomeUnknown, w.ch.name, w.opener.store.path, seq, what, err)
}
