package adaptor

import (
	"container/heap"
	"errors"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// entryOverhead is what a cached entry costs besides its message bytes:
// the message and its properties map, its ID, the window's and the
// budget queue's slots (about 490 bytes measured for a message with one
// property; counting 64, as before, let a 64 MiB budget of 1 KiB
// messages hold ~90 MiB).
const entryOverhead = 512

type cacheEntry struct {
	msg  message.ImmutableMessage
	size int
}

// cache is a WAL's write-ahead cache: a window of its newest appends in ID
// order with no hole between two entries (see the package doc for why that
// holds). Entries have absolute indexes that never repeat; the window is
// [base, base+len(entries)). Emptying the window after an unknown outcome
// skips one index, so every scanner positioned in it falls back to the
// backend, where the message that may exist is read.
//
// The window is filled only while the cache is active (its WAL has a
// scanner), and its bytes count against the opener's budget, which evicts
// the oldest entries of all caches.
type cache struct {
	budget *cacheBudget
	// baseNow mirrors base for the budget's compaction, which must not
	// take c.mu.
	baseNow atomic.Uint64

	mu       sync.Mutex
	disabled bool
	active   bool
	entries  []cacheEntry
	base     uint64
	bytes    int
	// parked scanners are caught up and waiting; publish hands them new
	// entries directly (see scanner.tail) and closes the channel to wake one.
	parked map[*scanner]chan struct{}

	// Publication order. Tickets number the driver appends as they start
	// (from 1). low is the smallest ticket not completed; done holds the
	// completed ones above it. A completed append waits in pending until
	// every ticket up to its barrier (the last ticket started when it
	// completed) has completed and it is the smallest pending ID.
	next    uint64
	low     uint64
	done    map[uint64]struct{}
	pending pendingHeap
	// Appends with a ticket up to resetBarrier started before the last
	// unknown outcome completed; they may be ordered around the message
	// that may exist, so they are not cached.
	resetBarrier uint64
	// floor is the highest ID stored by an append with a ticket up to
	// resetBarrier. Those appends are not cached, and appends that started
	// after the reset may be stored between them, so no entry at or below
	// floor is published either. All of them complete (and raise floor)
	// before any later entry is published, by the barrier rule, so the
	// window re-forms above floor without a hole.
	floor message.MessageID
}

func (c *cache) raiseFloorLocked(id message.MessageID) {
	if c.floor == nil || c.floor.LT(id) {
		c.floor = id
	}
}

type pendingEntry struct {
	cacheEntry
	barrier uint64
}

type pendingHeap []pendingEntry

func (h pendingHeap) Len() int           { return len(h) }
func (h pendingHeap) Less(i, j int) bool { return h[i].msg.MessageID().LT(h[j].msg.MessageID()) }
func (h pendingHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)        { *h = append(*h, x.(pendingEntry)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = pendingEntry{}
	*h = old[:len(old)-1]
	return x
}

func newCache(budget *cacheBudget) *cache {
	return &cache{budget: budget, parked: map[*scanner]chan struct{}{}, next: 1, low: 1, done: map[uint64]struct{}{}}
}

// setBaseLocked moves the window's start.
func (c *cache) setBaseLocked(base uint64) {
	c.base = base
	c.baseNow.Store(base)
}

// activate starts filling the window: its WAL has a scanner now. Appends
// already started are not cached (they may complete in any order around
// the first cached one), and nothing at or below the IDs they get either,
// as after an unknown outcome.
func (c *cache) activate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.disabled || c.active {
		return
	}
	c.active = true
	c.resetBarrier = c.next - 1
}

// deactivate empties the window and stops filling it: its WAL has no
// scanner left to feed, so its bytes go back to the budget.
func (c *cache) deactivate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.disabled || !c.active {
		return
	}
	c.active = false
	c.resetLocked()
}

// resetLocked drops every entry, published or pending, and keeps what is in
// flight out of the window when it re-forms: appends started before now
// may be stored on either side of anything not cached, so none of them is
// cached, and nothing at or below the highest of them either.
func (c *cache) resetLocked() {
	c.resetBarrier = c.next - 1
	for _, e := range c.pending {
		c.raiseFloorLocked(e.msg.MessageID())
	}
	clear(c.pending)
	c.pending = c.pending[:0]
	c.invalidateLocked()
}

// begin numbers a driver append that is about to start.
func (c *cache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.next
	c.next++
	return t
}

// notWritten reports errors after which the driver contract says nothing
// was stored.
func notWritten(err error) bool {
	return errors.Is(err, wal.ErrMessageTooLarge) || errors.Is(err, wal.ErrInvalidArgument) ||
		errors.Is(err, wal.ErrReadOnly) || wal.IsRetryable(err)
}

// complete records the outcome of ticket t and publishes what became
// publishable.
func (c *cache) complete(t uint64, msg message.MutableMessage, id message.MessageID, channel string, err error) {
	c.mu.Lock()
	published := c.completeLocked(t, msg, id, channel, err)
	c.mu.Unlock()
	if published {
		c.budget.trim()
	}
}

func (c *cache) completeLocked(t uint64, msg message.MutableMessage, id message.MessageID, channel string, err error) (published bool) {
	if c.disabled {
		return false
	}
	if t == c.low {
		c.low++
		for {
			if _, ok := c.done[c.low]; !ok {
				break
			}
			delete(c.done, c.low)
			c.low++
		}
	} else {
		c.done[t] = struct{}{}
	}
	switch {
	case err == nil && t > c.resetBarrier:
		if !c.active {
			break // started while no scanner needed it; activate covers it
		}
		im := msg.IntoImmutable(id, channel)
		heap.Push(&c.pending, pendingEntry{cacheEntry: cacheEntry{msg: im, size: im.EstimateSize() + entryOverhead}, barrier: c.next - 1})
	case err == nil:
		c.raiseFloorLocked(id)
	case notWritten(err):
	case errors.Is(err, wal.ErrFenced):
		c.disableLocked()
		return false
	default:
		// Maybe stored, not cached.
		c.resetLocked()
	}
	return c.publishLocked()
}

// publishLocked moves what became publishable from pending to the window,
// feeds the parked scanners, and charges the budget; the caller trims the
// budget once it released c.mu.
func (c *cache) publishLocked() bool {
	from := c.base + uint64(len(c.entries))
	n := 0
	for len(c.pending) > 0 && c.pending[0].barrier < c.low {
		e := heap.Pop(&c.pending).(pendingEntry)
		if c.floor != nil && e.msg.MessageID().LTE(c.floor) {
			continue
		}
		c.entries = append(c.entries, e.cacheEntry)
		c.bytes += e.size
		n += e.size
	}
	to := c.base + uint64(len(c.entries))
	if to == from {
		return false
	}
	c.budget.add(c, from, to, n)
	for s, wake := range c.parked {
		c.feedLocked(s, wake)
	}
	return true
}

// evictThrough drops the window's entries up to index idx, for the budget.
func (c *cache) evictThrough(idx uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, freed := 0, 0
	for len(c.entries) > 0 && c.base <= idx {
		freed += c.entries[0].size
		c.entries[0] = cacheEntry{}
		c.entries = c.entries[1:]
		c.base++
		n++
	}
	if n == 0 {
		return
	}
	if len(c.entries) == 0 {
		c.entries = nil // let the backing array go
	}
	c.setBaseLocked(c.base)
	c.bytes -= freed
	c.budget.dropped(n, freed)
}

// feedLocked delivers new entries to parked scanner s in the publisher's
// goroutine, saving the scanner's own wake-up. While s is parked its
// position (pcursor, last) and hooks belong to whoever holds c.mu, and only
// this code sends on its channel, so a send with room cannot block. When the
// channel is full or s is stopping, s is woken to carry on itself.
func (c *cache) feedLocked(s *scanner, wake chan struct{}) {
	end := c.base + uint64(len(c.entries))
	for s.pcursor < end {
		if s.ctx.Err() != nil || len(s.ch) == cap(s.ch) || (s.wakeAt != 0 && s.pcursor >= s.wakeAt) {
			delete(c.parked, s)
			close(wake)
			return
		}
		e := c.entries[s.pcursor-c.base]
		s.pcursor++
		if s.last != nil && e.msg.MessageID().LTE(s.last) {
			continue
		}
		s.last = e.msg.MessageID()
		s.fromCache.Add(1)
		if s.accept(e.msg) {
			s.ch <- e.msg
			s.delivered(e.msg, true)
		}
	}
}

// park registers s, caught up at cursor, for direct delivery. It returns
// false, without parking, if the window has entries from cursor on or has
// moved past it; the scanner then reads it again. Direct delivery wakes s
// when it reaches position wakeAt (0: never), so it can close its paused
// driver scanner.
func (c *cache) park(s *scanner, cursor, wakeAt uint64) (<-chan struct{}, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.disabled || cursor != c.base+uint64(len(c.entries)) {
		return nil, false
	}
	wake := make(chan struct{})
	s.pcursor, s.wakeAt = cursor, wakeAt
	c.parked[s] = wake
	return wake, true
}

// unpark takes s back from the publishers and returns its position.
func (c *cache) unpark(s *scanner) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.parked, s)
	return s.pcursor
}

// invalidateLocked empties the window and skips an index, so every scanner
// in it falls back to the backend.
func (c *cache) invalidateLocked() {
	c.budget.dropped(len(c.entries), c.bytes)
	c.setBaseLocked(c.base + uint64(len(c.entries)) + 1)
	clear(c.entries)
	c.entries = nil
	c.bytes = 0
	for s, wake := range c.parked {
		delete(c.parked, s)
		close(wake)
	}
}

func (c *cache) disableLocked() {
	if c.disabled {
		return
	}
	c.disabled = true
	c.active = false
	c.pending = nil
	c.done = nil
	c.invalidateLocked()
}

// disable empties the cache for good (the WAL was fenced or closed).
func (c *cache) disable() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disableLocked()
}

// after returns the index that follows id, if id is in the window.
func (c *cache) after(id message.MessageID) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := sort.Search(len(c.entries), func(i int) bool { return !c.entries[i].msg.MessageID().LT(id) })
	if i == len(c.entries) || !c.entries[i].msg.MessageID().EQ(id) {
		return 0, false
	}
	return c.base + uint64(i) + 1, true
}

// read appends to dst the entries from index cursor on (at most cap(dst)).
// ok is false when cursor has left the window.
func (c *cache) read(cursor uint64, dst []cacheEntry) (entries []cacheEntry, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.base + uint64(len(c.entries))
	if cursor < c.base || cursor > end {
		return nil, false
	}
	i := int(cursor - c.base)
	n := min(len(c.entries)-i, cap(dst))
	return append(dst, c.entries[i:i+n]...), true
}
