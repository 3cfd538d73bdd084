package adaptor

import (
	"sync"
	"sync/atomic"
)

// cacheBudget is an opener's write-ahead cache bound, shared by the caches
// of all its WALs. Each published entry is queued here in publication
// order; while the caches hold more than max bytes together, the oldest
// entries are evicted, whatever their WAL, so a quiet channel's entries go
// before a busy channel's newer ones and the opener's total stays bounded
// however many WALs it has.
//
// Lock order: a cache's mu, then the budget's mu. Eviction takes the
// budget's mu only to pop a queue item, and the item's cache's mu after
// releasing it, so no goroutine holds two caches' locks.
type cacheBudget struct {
	max     int64
	bytes   atomic.Int64 // bytes of the entries in every window
	entries atomic.Int64 // entries in every window

	mu    sync.Mutex
	queue []budgetItem // publication order, live from head on
	head  int
}

// budgetItem is one published entry: index idx of cache c. It is stale
// once c dropped the entry (its window was emptied or moved past idx).
type budgetItem struct {
	c   *cache
	idx uint64
}

// budgetCompactMin is how many stale queue items are tolerated before the
// queue is compacted: a window emptied by its WAL leaves its items queued
// until they are popped, which only an overfull budget does.
const budgetCompactMin = 4096

func newCacheBudget(maxBytes int64) *cacheBudget { return &cacheBudget{max: maxBytes} }

// add queues entries [from, to) of c, of n bytes in all. The caller holds
// c.mu.
func (b *cacheBudget) add(c *cache, from, to uint64, n int) {
	b.bytes.Add(int64(n))
	b.entries.Add(int64(to - from))
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := from; i < to; i++ {
		b.queue = append(b.queue, budgetItem{c: c, idx: i})
	}
	if live := len(b.queue) - b.head; live > 2*int(b.entries.Load())+budgetCompactMin {
		b.compactLocked()
	}
}

// dropped records that a cache dropped entries of n bytes without the
// budget asking (its window was emptied). The caller holds that cache's mu.
func (b *cacheBudget) dropped(entries, n int) {
	b.bytes.Add(-int64(n))
	b.entries.Add(-int64(entries))
}

// compactLocked removes stale items. A cache's base only grows, so an item
// below it is stale for good.
func (b *cacheBudget) compactLocked() {
	live := b.queue[:0]
	for _, it := range b.queue[b.head:] {
		if it.idx >= it.c.baseNow.Load() {
			live = append(live, it)
		}
	}
	clear(b.queue[len(live):])
	b.queue, b.head = live, 0
}

// trim evicts the oldest entries until the caches fit the budget. It runs
// in the publisher's goroutine after it released its cache's lock.
func (b *cacheBudget) trim() {
	for b.bytes.Load() > b.max {
		b.mu.Lock()
		if b.head == len(b.queue) {
			b.mu.Unlock()
			return
		}
		it := b.queue[b.head]
		b.queue[b.head] = budgetItem{}
		b.head++
		if b.head >= budgetCompactMin && b.head > len(b.queue)/2 {
			n := copy(b.queue, b.queue[b.head:])
			clear(b.queue[n:])
			b.queue, b.head = b.queue[:n], 0
		}
		b.mu.Unlock()
		it.c.evictThrough(it.idx)
	}
}
