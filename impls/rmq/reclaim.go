package rmq

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// reclaimInterval spaces out reclaiming compactions, so a caller that
// truncates often does not keep Pebble flushing small memtables.
const reclaimInterval = time.Second

// truncatedRange is the part of a channel's data a truncation deleted and
// that is not compacted away yet: sequences [lo, hi).
type truncatedRange struct {
	c      *channelState
	lo, hi uint64
}

// reclaimer compacts truncated ranges in the background. Pebble would keep
// a range tombstone in the memtable until enough new writes fill it, and
// only then drop the deleted sstables; compacting the range right away
// gives the disk space back within about a second of Truncate.
type reclaimer struct {
	s      *store
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	pending map[uint32]truncatedRange
}

func startReclaimer(s *store) *reclaimer {
	ctx, cancel := context.WithCancel(context.Background())
	r := &reclaimer{s: s, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}), pending: map[uint32]truncatedRange{}}
	go r.run(ctx)
	return r
}

// add records that channel c's sequences [lo, hi) were deleted (an empty
// range only asks for its dead value log segments to be deleted).
func (r *reclaimer) add(c *channelState, lo, hi uint64) {
	r.mu.Lock()
	if p, ok := r.pending[c.id]; ok {
		lo, hi = min(lo, p.lo), max(hi, p.hi)
	}
	r.pending[c.id] = truncatedRange{c: c, lo: lo, hi: hi}
	r.mu.Unlock()
	r.poke()
}

// poke asks for a round without a range: the journal has segments to
// delete (journal.collect).
func (r *reclaimer) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Stopping: cancel ends the goroutine (a compaction in progress is
// cancelled), wait waits for it to end.
func (r *reclaimer) wait() { <-r.done }

func (r *reclaimer) run(ctx context.Context) {
	defer close(r.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		r.mu.Lock()
		pending := r.pending
		r.pending = map[uint32]truncatedRange{}
		r.mu.Unlock()
		r.deleteSegments(pending)
		if r.s.failed() == nil {
			if err := r.s.jnl.collect(); err != nil {
				r.s.health.report("delete journal segments", err)
			}
		}
		for id, rg := range pending {
			if rg.lo >= rg.hi || r.s.failed() != nil {
				continue
			}
			if err := r.compact(ctx, id, rg); err != nil && ctx.Err() == nil {
				// Only space is at stake: Pebble compacts the range later anyway.
				r.s.health.report("reclaim of a truncated range", fmt.Errorf("channel id %d: %w", id, err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(reclaimInterval):
		}
	}
}

// compact compacts a truncated range. Pebble flushes the memtable first
// if it holds part of the range, and waits for that flush; while flushes
// fail (a full disk) that wait would not end, and the reclaimer would stop
// deleting value log segments, the one thing that frees space then. So the
// range waits for a later round while flushes fail, and a compaction is
// given up when a failure is reported meanwhile.
func (r *reclaimer) compact(ctx context.Context, id uint32, rg truncatedRange) error {
	changed := r.s.health.changes()
	if r.s.health.flushErr.Load() != nil {
		r.add(rg.c, rg.lo, rg.hi)
		return nil
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-changed:
			cancel()
		case <-cctx.Done():
		}
	}()
	err := r.s.guard(func() error {
		return r.s.db.Compact(cctx, dataKey(id, rg.lo), dataKey(id, rg.hi), false)
	})
	if err != nil && cctx.Err() != nil && ctx.Err() == nil {
		r.add(rg.c, rg.lo, rg.hi)
		return nil
	}
	return err
}

// deleteSegments makes the truncations durable and deletes the value log
// segments they emptied. Durable first: a crash that undid a truncation
// would otherwise bring back pointers into deleted files. So the first
// retained sequences are read, then the journal is synced (which covers
// them), and only then are segments below them deleted. The sync also
// covers channels that wait for no deletion: large appends never sync
// the journal, so without it a truncation followed only by large appends
// would stay undurable until the store closes.
//
// A failed sync fails the store like any failed sync: what it covered may
// be lost, so nothing written after it may be acknowledged.
func (r *reclaimer) deleteSegments(pending map[uint32]truncatedRange) {
	type cut struct{ first, next uint64 }
	cuts := map[*channelState]cut{}
	for _, rg := range pending {
		c := rg.c
		c.mu.Lock()
		segs := c.vlog.segs
		if len(segs) > 1 && segs[1] <= c.first || len(segs) > 0 && c.first >= c.next {
			cuts[c] = cut{first: c.first, next: c.next}
		}
		c.mu.Unlock()
	}
	if len(pending) == 0 || r.s.failed() != nil {
		return
	}
	if err := r.s.syncLog(); err != nil {
		if !isNotEntered(err) {
			r.s.fail(fmt.Errorf("sync of the journal (making truncations durable): %w", err))
			r.s.health.report("reclaimer's sync of the journal", err)
		}
		return
	}
	for c, k := range cuts {
		c.mu.Lock()
		dead := c.vlog.takeDead(k.first)
		var err error
		if k.first >= k.next && c.next == k.next {
			// Every record was truncated and nothing appended since: the
			// segment being written goes too.
			err = c.vlog.dropAll()
		}
		c.mu.Unlock()
		if rerr := c.vlog.remove(dead); err == nil {
			err = rerr
		}
		if err != nil {
			r.s.health.report("reclaim of the value log", fmt.Errorf("channel %q: %w", c.name, err))
		}
	}
}
