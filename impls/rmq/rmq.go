package rmq

import (
	"context"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
	"github.com/mqwal/mqwal/walimpls/registry"
)

func init() {
	helper.RegisterInt64ID(Name)
	registry.RegisterBuilder(NewBuilder())
}

// Build validates the configuration and opens (or shares, within the
// process) the Pebble database of the data directory. A directory held by
// another process fails with an error wrapping walimpls.ErrUnavailable and
// Pebble's lock error.
func (b *Builder) Build() (walimpls.OpenerImpls, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	s, err := acquireStore(b)
	if err != nil {
		return nil, err
	}
	o := &opener{
		store:    s,
		readOnly: b.readOnly,
		caps:     walimpls.Capabilities{Fencing: true, PhysicalTruncate: true, ExclusiveLog: true, MaxMessageSize: b.maxSize},
		write:    pebble.Sync,
		large:    b.vlogThreshold,
	}
	if b.syncMode == SyncNone {
		o.write = pebble.NoSync
	}
	return o, nil
}

type opener struct {
	store *store
	// readOnly: built WithReadOnly; only ReadOnly opens.
	readOnly bool
	caps     walimpls.Capabilities
	write    *pebble.WriteOptions
	// large is the value log threshold: encoded records of at least this
	// many bytes go to the value log (0: none do).
	large int
	wals  helper.Lifetime
	once  sync.Once
}

func (o *opener) Capabilities() walimpls.Capabilities { return o.caps }

func (o *opener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if err := o.wals.Check("rmq opener"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.readOnly && opt.Channel.AccessMode != walimpls.ReadOnly {
		return nil, fmt.Errorf("%w: rmq opener of %s was built WithReadOnly: open channel %q ReadOnly", walimpls.ErrReadOnly, o.store.path, opt.Channel.Name)
	}
	if err := o.store.begin("open"); err != nil {
		return nil, err
	}
	defer o.store.ops.RUnlock()
	ch, err := o.store.channel(opt.Channel.Name, opt.Channel.AccessMode == walimpls.ReadWrite)
	if err != nil {
		return nil, err
	}
	if opt.Channel.AccessMode == walimpls.ReadWrite {
		if err := o.fence(ch, opt.Channel.Term); err != nil {
			return nil, err
		}
	}
	w := &wal{WALBase: helper.NewWALBase(Name, opt.Channel, o.caps.MaxMessageSize), opener: o, ch: ch}
	remove, err := o.wals.Add("rmq opener", func() { w.Close() })
	if err != nil {
		return nil, err
	}
	w.removeFromOpener = remove
	if opt.Channel.AccessMode == walimpls.ReadWrite {
		ch.mu.Lock()
		ch.writers[opt.Channel.Term]++
		ch.mu.Unlock()
	}
	return w, nil
}

// fence raises the channel's term to term (persisted before it counts), or
// fails with ErrFenced if a higher term opened the channel already.
func (o *opener) fence(ch *channelState, term int64) error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	switch {
	case term < ch.term:
		return fmt.Errorf("%w: rmq channel %q: open with term %d, the channel's term is %d", walimpls.ErrFenced, ch.name, term, ch.term)
	case term == ch.term:
		return nil
	}
	if err := o.store.commit(pebble.Sync, func(b *pebble.Batch) error {
		return b.Set(metaKey(ch.id, metaTerm), encodeUint64(uint64(term)), nil)
	}); err != nil {
		return fmt.Errorf("rmq channel %q: persist term %d: %w", ch.name, term, err)
	}
	ch.term = term
	return nil
}

// Close closes every WAL of the opener, then releases the database (the
// last opener of a directory closes it).
func (o *opener) Close() {
	o.wals.Close()
	o.once.Do(func() {
		if err := o.store.release(); err != nil {
			o.store.health.log.Error("rmq: close failed", "err", err.Error())
		}
	})
}

type wal struct {
	*helper.WALBase
	opener           *opener
	ch               *channelState
	removeFromOpener func()
}

func (w *wal) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	if err := w.CheckAppend(ctx, msg); err != nil {
		return nil, err
	}
	s := w.opener.store
	if err := s.begin("append"); err != nil {
		return nil, err
	}
	defer s.ops.RUnlock()
	if err := s.writable(); err != nil {
		return nil, err
	}
	size := message.EncodedRecordSize(msg.Payload(), msg.Properties())
	if w.opener.large > 0 && size >= w.opener.large {
		return w.appendLarge(msg, size)
	}
	b := s.db.NewBatch()
	op := b.SetDeferred(dataKeyLen, size)
	// Encode straight into the batch: no intermediate copy of the payload.
	message.EncodeRecord(op.Value[:0], msg.Payload(), msg.Properties())

	seq, g, err := w.apply(b, op)
	if g == nil {
		_ = b.Close() // it went to the value log, or failed before the journal
		if err != nil {
			return nil, err
		}
		return helper.NewInt64ID(Name, int64(seq)), nil
	}
	err = s.jnl.wait(g)
	s.closeBatch(b, err)
	if err != nil {
		if isNotEntered(err) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: rmq channel %q in %s: write sequence %d: %w", walimpls.ErrOutcomeUnknown, w.ch.name, s.path, seq, err)
	}
	w.ch.durable(seq)
	return helper.NewInt64ID(Name, int64(seq)), nil
}

// apply assigns the next sequence and queues the batch in the journal
// under the channel lock, so sequences enter the journal in order and a
// fenced writer can never slip one in. The write and fsync are awaited
// outside the lock (journal.wait): that is what lets concurrent appends,
// of any channel, share them.
//
// While the channel's value log has a batch in flight, the record joins
// the value log's next batch instead (g is nil): queued in the journal
// now, it could become durable and visible before the earlier sequences of
// that batch exist. It then returns once stored.
func (w *wal) apply(b *pebble.Batch, op *pebble.DeferredBatchOp) (seq uint64, g *journalGroup, err error) {
	c := w.ch
	c.mu.Lock()
	if err := w.checkLocked("append"); err != nil {
		c.mu.Unlock()
		return 0, nil, err
	}
	if c.vlog.flushing {
		buf := getVlogBuf(vlogHeaderLen + len(op.Value))
		defer putVlogBuf(buf)
		rec := *buf
		copy(rec[vlogHeaderLen:], op.Value)
		seq, err := w.appendVlogLocked(rec, vlogBodyCRC(rec[vlogHeaderLen:]))
		return seq, nil, err
	}
	defer c.mu.Unlock()
	seq = c.next
	appendDataKey(op.Key[:0], c.id, seq)
	if err := op.Finish(); err != nil {
		return 0, nil, fmt.Errorf("rmq channel %q: %w", c.name, err)
	}
	g = w.opener.store.jnl.enqueue(b, w.opener.write.Sync)
	c.next++
	return seq, g, nil
}

// checkLocked refuses a write by a fenced WAL or to a failed store; the
// caller holds the channel lock, so no newer term can open in between.
func (w *wal) checkLocked(op string) error {
	c := w.ch
	if c.term > w.Channel().Term {
		return fmt.Errorf("%w: rmq channel %q: %s with term %d, the channel's term is %d", walimpls.ErrFenced, c.name, op, w.Channel().Term, c.term)
	}
	return w.opener.store.failed()
}

func (w *wal) Truncate(ctx context.Context, id message.MessageID) error {
	if err := w.CheckTruncate(ctx, id); err != nil {
		return err
	}
	seq, err := seqOf(id)
	if err != nil {
		return err
	}
	s := w.opener.store
	if err := s.begin("truncate"); err != nil {
		return err
	}
	defer s.ops.RUnlock()
	c := w.ch
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := w.checkLocked("truncate"); err != nil {
		return err
	}
	if seq >= c.end {
		return fmt.Errorf("%w: truncate to %v, beyond the last appended message of channel %q", walimpls.ErrInvalidArgument, id, c.name)
	}
	if seq < c.first {
		return nil
	}
	// One range tombstone plus the new start, atomically: never key by key.
	// Not fsynced on its own: Truncate only allows discarding, so a crash
	// that undoes it loses nothing, and the next synced inline append or the
	// reclaimer (which syncs before it deletes value log segments) carries it.
	if err := s.commit(pebble.NoSync, func(b *pebble.Batch) error {
		if err := b.DeleteRange(dataKey(c.id, c.first), dataKey(c.id, seq+1), nil); err != nil {
			return err
		}
		return b.Set(metaKey(c.id, metaFirst), encodeUint64(seq+1), nil)
	}); err != nil {
		return fmt.Errorf("rmq channel %q: truncate to %d: %w", c.name, seq, err)
	}
	s.reclaim.add(c, c.first, seq+1)
	c.first = seq + 1
	c.notifyLocked()
	return nil
}

func seqOf(id message.MessageID) (uint64, error) {
	i, ok := id.(helper.Int64ID)
	if !ok || i.Value() < 0 {
		return 0, fmt.Errorf("%w: MessageID %v is not an rmq sequence", walimpls.ErrInvalidArgument, id)
	}
	return uint64(i.Value()), nil
}

func (w *wal) Close() {
	if w.WALBase.Close() {
		if ch := w.Channel(); ch.AccessMode == walimpls.ReadWrite {
			w.ch.mu.Lock()
			if w.ch.writers[ch.Term]--; w.ch.writers[ch.Term] <= 0 {
				delete(w.ch.writers, ch.Term)
			}
			w.ch.mu.Unlock()
		}
		w.removeFromOpener()
	}
}
