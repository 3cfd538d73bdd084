package adaptor

import (
	"fmt"
	"testing"
)

// entryBytes is what one cmsg() entry charges the budget.
const entryBytes = 1 + entryOverhead

func fill(c *cache, ids ...int64) {
	for _, id := range ids {
		c.complete(c.begin(), cmsg(), cid(id), "ch", nil)
	}
}

func TestCacheBudgetEvictsOldestAcrossCaches(t *testing.T) {
	b := newCacheBudget(4 * entryBytes)
	quiet, busy := activeCache(b), activeCache(b)
	fill(quiet, 1, 2)
	fill(busy, 10, 11)
	if got := fmt.Sprint(window(quiet), window(busy)); got != "[1 2] [10 11]" {
		t.Fatalf("windows %s", got)
	}
	// The busy WAL's next appends evict the quiet WAL's older entries
	// first, then its own oldest.
	fill(busy, 12)
	if got := fmt.Sprint(window(quiet), window(busy)); got != "[2] [10 11 12]" {
		t.Fatalf("windows %s, want the oldest entry of all evicted", got)
	}
	fill(busy, 13, 14)
	if got := fmt.Sprint(window(quiet), window(busy)); got != "[] [11 12 13 14]" {
		t.Fatalf("windows %s", got)
	}
	if n := b.bytes.Load(); n != 4*entryBytes {
		t.Fatalf("budget charged %d bytes, want %d", n, 4*entryBytes)
	}
	// A quiet WAL's scanner caught up before the eviction is still caught
	// up: its position is the window's end, which eviction does not move.
	if _, ok := quiet.read(2, nil); !ok { // indexes 0 and 1 held IDs 1 and 2
		t.Fatal("position after the newest entry left the window when older entries were evicted")
	}
	if _, ok := quiet.after(cid(2)); ok {
		t.Fatal("after() found an evicted ID")
	}
}

func TestCacheFillsOnlyWhileActive(t *testing.T) {
	b := newCacheBudget(1 << 20)
	c := newCache(b)
	fill(c, 1, 2)
	if w := window(c); len(w) != 0 {
		t.Fatalf("a cache without scanners filled: %v", w)
	}
	inflight := c.begin() // started before the first scanner came
	c.activate()
	fill(c, 4)
	if w := window(c); len(w) != 0 {
		t.Fatalf("published %v while an append started before activation was in flight", w)
	}
	c.complete(inflight, cmsg(), cid(5), "ch", nil) // stored after 4: must not be cached next to it
	fill(c, 6)
	if w := fmt.Sprint(window(c)); w != "[6]" {
		t.Fatalf("window %s, want [6]: nothing at or below an uncached append", w)
	}
	c.deactivate()
	if w := window(c); len(w) != 0 || b.bytes.Load() != 0 || b.entries.Load() != 0 {
		t.Fatalf("deactivated cache keeps %v, budget %d bytes %d entries", w, b.bytes.Load(), b.entries.Load())
	}
	fill(c, 7)
	if w := window(c); len(w) != 0 {
		t.Fatalf("deactivated cache filled: %v", w)
	}
}

// Windows emptied without budget pressure leave their queue items behind;
// the queue is compacted so it does not grow for ever.
func TestCacheBudgetQueueStaysBounded(t *testing.T) {
	b := newCacheBudget(1 << 30)
	c := newCache(b)
	id := int64(0)
	for range 100 {
		c.activate()
		for range 1000 {
			id++
			fill(c, id)
		}
		c.deactivate()
	}
	b.mu.Lock()
	n := len(b.queue) - b.head
	b.mu.Unlock()
	if n > 2*budgetCompactMin+1000 {
		t.Fatalf("%d queue items for %d cached entries", n, b.entries.Load())
	}
}
