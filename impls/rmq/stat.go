package rmq

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// Stat implements walimpls.StatReader from what the process knows of the
// channel and Pebble's metadata, reading no message:
//
//   - First, Last and Messages: the retained sequences, first..end-1 (rmq
//     stores no records of its own, and sequences have no gaps).
//   - Bytes: the value log segments that may hold retained records, plus
//     Pebble's estimate of the sstables over the channel's retained keys.
//     Messages Pebble has not flushed yet (at most its memtables, 64 MiB
//     each, up to four) are in its log only and not counted; while none of
//     the channel's retained messages are counted, Bytes is Unknown.
//   - Term: the highest term that opened the channel ReadWrite (0 if it
//     was only ever opened with term 0).
//   - Writer: one process holds a data directory, so rmq knows for sure:
//     WriterHeld while a ReadWrite WAL of Term is open in this process.
//   - BackendName: "channel id <8 hex>", the id that prefixes the
//     channel's keys in Pebble and names its value log directory.
func (w *wal) Stat(ctx context.Context) (walimpls.ChannelStat, error) {
	if err := w.CheckRead(ctx, walimpls.ReadOption{}); err != nil {
		return walimpls.ChannelStat{}, err
	}
	s, c := w.opener.store, w.ch
	if err := s.begin("stat"); err != nil {
		return walimpls.ChannelStat{}, err
	}
	defer s.ops.RUnlock()
	c.mu.Lock()
	first, end, term := c.first, c.end, c.term
	writer := walimpls.WriterNone
	if c.writers[term] > 0 {
		writer = walimpls.WriterHeld
	}
	segs := c.vlog.retainedSegments(first)
	c.mu.Unlock()

	st := walimpls.ChannelStat{Channel: c.name, BackendName: fmt.Sprintf("channel id %08x", c.id), Term: term, Writer: writer}
	if first >= end {
		return st, nil // nothing retained: nil First and Last, 0 messages and bytes
	}
	st.First, st.Last = helper.NewInt64ID(Name, int64(first)), helper.NewInt64ID(Name, int64(end-1))
	st.Messages = int64(end - first)
	tables, err := s.db.EstimateDiskUsage(dataKey(c.id, first), dataKey(c.id, end-1))
	if err != nil {
		return walimpls.ChannelStat{}, fmt.Errorf("%w: rmq channel %q in %s: estimate its size: %w", walimpls.ErrUnavailable, c.name, s.path, err)
	}
	vlogBytes, err := c.vlog.size(segs)
	if err != nil {
		return walimpls.ChannelStat{}, fmt.Errorf("%w: rmq channel %q in %s: %w", walimpls.ErrUnavailable, c.name, s.path, err)
	}
	st.Bytes = int64(tables) + vlogBytes
	if st.Bytes == 0 {
		st.Bytes = walimpls.Unknown
	}
	return st, nil
}

// retainedSegments is the segments that may hold records from sequence
// first on: the ones before them wait for the reclaimer. The caller holds
// the channel's mu.
func (v *vlog) retainedSegments(first uint64) []uint64 {
	i := len(v.segs)
	for i > 0 && v.segs[i-1] > first {
		i--
	}
	// segs[i-1] (if any) starts at or below first and may hold it.
	return append([]uint64(nil), v.segs[max(i-1, 0):]...)
}

// size is how many bytes segments take on disk; one the reclaimer deleted
// meanwhile counts nothing.
func (v *vlog) size(segs []uint64) (int64, error) {
	var n int64
	for _, seg := range segs {
		fi, err := v.s.fs.Stat(v.segPath(seg))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("value log: %w", err)
		}
		n += fi.Size()
	}
	return n, nil
}

// ListChannels implements walimpls.ChannelLister: the channels of the
// data directory (a channel exists once opened ReadWrite), in name order.
func (o *opener) ListChannels(ctx context.Context) ([]string, error) {
	if err := o.wals.Check("rmq opener"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := o.store
	if err := s.begin("list channels"); err != nil {
		return nil, err
	}
	defer s.ops.RUnlock()
	var names []string
	err := s.eachChannel(func(name string, _ uint32) error {
		names = append(names, name)
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}
