package adaptor

import (
	"container/heap"
	"errors"
	"sort"
	"sync"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// entryOverhead is what a cached entry costs besides its message bytes.
const entryOverhead = 64

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
type cache struct {
	maxBytes int

	mu       sync.Mutex
	disabled bool
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

func newCache(maxBytes int) *cache {
	return &cache{maxBytes: maxBytes, parked: map[*scanner]chan struct{}{}, next: 1, low: 1, done: map[uint64]struct{}{}}
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
	defer c.mu.Unlock()
	if c.disabled {
		return
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
		im := msg.IntoImmutable(id, channel)
		heap.Push(&c.pending, pendingEntry{cacheEntry: cacheEntry{msg: im, size: im.EstimateSize() + entryOverhead}, barrier: c.next - 1})
	case err == nil:
		c.raiseFloorLocked(id)
	case notWritten(err):
	case errors.Is(err, wal.ErrFenced):
		c.disableLocked()
		return
	default:
		// Maybe stored, not cached. Appends that started before now may be
		// stored on either side of it, so none of them is cached, and
		// nothing at or below the highest of them either.
		c.resetBarrier = c.next - 1
		for _, e := range c.pending {
			c.raiseFloorLocked(e.msg.MessageID())
		}
		c.pending = c.pending[:0]
		c.invalidateLocked()
	}
	c.publishLocked()
}

func (c *cache) publishLocked() {
	published := false
	for len(c.pending) > 0 && c.pending[0].barrier < c.low {
		e := heap.Pop(&c.pending).(pendingEntry)
		if c.floor != nil && e.msg.MessageID().LTE(c.floor) {
			continue
		}
		c.entries = append(c.entries, e.cacheEntry)
		c.bytes += e.size
		published = true
	}
	if !published {
		return
	}
	for s, wake := range c.parked {
		c.feedLocked(s, wake)
	}
	for c.bytes > c.maxBytes && len(c.entries) > 1 {
		c.bytes -= c.entries[0].size
		c.entries[0] = cacheEntry{}
		c.entries = c.entries[1:]
		c.base++
	}
}

// feedLocked delivers new entries to parked scanner s in the publisher's
// goroutine, saving the scanner's own wake-up. While s is parked its
// position (pcursor, last) and hooks belong to whoever holds c.mu, and only
// this code sends on its channel, so a send with room cannot block. When the
// channel is full or s is stopping, s is woken to carry on itself.
func (c *cache) feedLocked(s *scanner, wake chan struct{}) {
	end := c.base + uint64(len(c.entries))
	for s.pcursor < end {
		if s.ctx.Err() != nil || len(s.ch) == cap(s.ch) {
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
		}
	}
}

// park registers s, caught up at cursor, for direct delivery. It returns
// false, without parking, if the window has entries from cursor on or has
// moved past it; the scanner then reads it again.
func (c *cache) park(s *scanner, cursor uint64) (<-chan struct{}, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.disabled || cursor != c.base+uint64(len(c.entries)) {
		return nil, false
	}
	wake := make(chan struct{})
	s.pcursor = cursor
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
	c.base += uint64(len(c.entries)) + 1
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
