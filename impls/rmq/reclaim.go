package rmq

import (
	"context"
	"time"
)

// reclaimInterval spaces out reclaiming compactions, so a caller that
// truncates often does not keep Pebble flushing small memtables.
const reclaimInterval = time.Second

// truncatedRange is the part of a channel's data a truncation deleted and
// that is not compacted away yet: sequences [lo, hi).
type truncatedRange struct{ lo, hi uint64 }

// reclaimer compacts truncated ranges in the background. Pebble would keep
// a range tombstone in the memtable until enough new writes fill it, and
// only then drop the deleted sstables; compacting the range right away
// gives the disk space back within about a second of Truncate.
type reclaimer struct {
	s      *store
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	// pending is guarded by s.mu.
	pending map[uint32]truncatedRange
}

func startReclaimer(s *store) *reclaimer {
	ctx, cancel := context.WithCancel(context.Background())
	r := &reclaimer{s: s, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}), pending: map[uint32]truncatedRange{}}
	go r.run(ctx)
	return r
}

// add records that channel id's sequences [lo, hi) were deleted.
func (r *reclaimer) add(id uint32, lo, hi uint64) {
	r.s.mu.Lock()
	if p, ok := r.pending[id]; ok {
		lo = min(lo, p.lo)
	}
	r.pending[id] = truncatedRange{lo: lo, hi: hi}
	r.s.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// stop ends the goroutine; any compaction in progress is cancelled.
func (r *reclaimer) stop() {
	r.cancel()
	<-r.done
}

func (r *reclaimer) run(ctx context.Context) {
	defer close(r.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		r.s.mu.Lock()
		pending := r.pending
		r.pending = map[uint32]truncatedRange{}
		r.s.mu.Unlock()
		for id, rg := range pending {
			err := r.s.guard(func() error {
				return r.s.db.Compact(ctx, dataKey(id, rg.lo), dataKey(id, rg.hi), false)
			})
			if err != nil && ctx.Err() == nil {
				// Only space is at stake: Pebble compacts the range later anyway.
				quietLogger{}.Errorf("reclaim truncated range of channel id %d: %v", id, err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(reclaimInterval):
		}
	}
}
