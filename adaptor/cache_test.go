package adaptor

import (
	"fmt"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls/helper"
)

func cid(n int64) message.MessageID { return helper.NewInt64ID("test", n) }

func cmsg() message.MutableMessage { return message.NewMutableMessage([]byte("x"), nil) }

// activeCache is a cache on budget with a scanner to fill it for.
func activeCache(budget *cacheBudget) *cache {
	c := newCache(budget)
	c.activate()
	return c
}

// window lists the IDs in the window.
func window(c *cache) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int64
	for _, e := range c.entries {
		out = append(out, e.msg.MessageID().(helper.Int64ID).Value())
	}
	return out
}

func TestCachePublishesOnlyAContiguousPrefix(t *testing.T) {
	c := activeCache(newCacheBudget(1 << 20))
	t1, t2, t3 := c.begin(), c.begin(), c.begin()
	c.complete(t2, cmsg(), cid(2), "ch", nil)
	c.complete(t3, cmsg(), cid(3), "ch", nil)
	if w := window(c); len(w) != 0 {
		t.Fatalf("published %v while an earlier append was in flight", w)
	}
	c.complete(t1, cmsg(), cid(1), "ch", nil)
	if w := fmt.Sprint(window(c)); w != "[1 2 3]" {
		t.Fatalf("window %s, want [1 2 3]", w)
	}
	// The driver may give a later start a lower ID: order is by ID.
	t4, t5 := c.begin(), c.begin()
	c.complete(t5, cmsg(), cid(4), "ch", nil)
	c.complete(t4, cmsg(), cid(5), "ch", nil)
	if w := fmt.Sprint(window(c)); w != "[1 2 3 4 5]" {
		t.Fatalf("window %s", w)
	}
	if next, ok := c.after(cid(3)); !ok || next != 3 {
		t.Fatalf("after(3) = %d, %v", next, ok)
	}
	if _, ok := c.after(cid(9)); ok {
		t.Fatal("after an ID that is not cached")
	}
	entries, ok := c.read(3, make([]cacheEntry, 0, 8))
	if !ok || len(entries) != 2 || !entries[0].msg.MessageID().EQ(cid(4)) {
		t.Fatalf("read(3) = %v, %v", entries, ok)
	}
}

func TestCacheUnknownOutcomeReforms(t *testing.T) {
	c := activeCache(newCacheBudget(1 << 20))
	t1 := c.begin()
	c.complete(t1, cmsg(), cid(1), "ch", nil)
	cursor, _ := c.after(cid(1))
	t2, t3, t4 := c.begin(), c.begin(), c.begin()
	c.complete(t2, cmsg(), cid(3), "ch", nil)                                           // pending: t3, t4 in flight
	c.complete(t3, cmsg(), nil, "ch", fmt.Errorf("%w: timeout", wal.ErrOutcomeUnknown)) // maybe stored as 2
	if w := window(c); len(w) != 0 {
		t.Fatalf("window %v survived an unknown outcome", w)
	}
	if _, ok := c.read(cursor, nil); ok {
		t.Fatal("a scanner positioned before the reset may still read the cache")
	}
	t5 := c.begin()                           // starts after the unknown outcome
	c.complete(t5, cmsg(), cid(4), "ch", nil) // below t4's ID: must not be cached next to a hole
	c.complete(t4, cmsg(), cid(6), "ch", nil) // started before the reset: not cached, raises the floor
	t6 := c.begin()
	c.complete(t6, cmsg(), cid(7), "ch", nil)
	if w := fmt.Sprint(window(c)); w != "[7]" {
		t.Fatalf("window %s, want [7] (nothing at or below 6)", w)
	}
}

func TestCacheNotWrittenErrorsKeepTheWindow(t *testing.T) {
	c := activeCache(newCacheBudget(1 << 20))
	t1 := c.begin()
	c.complete(t1, cmsg(), cid(1), "ch", nil)
	for _, err := range []error{wal.ErrMessageTooLarge, fmt.Errorf("%w: broker down", wal.ErrUnavailable), wal.ErrInvalidArgument} {
		c.complete(c.begin(), cmsg(), nil, "ch", err)
	}
	t2 := c.begin()
	c.complete(t2, cmsg(), cid(2), "ch", nil)
	if w := fmt.Sprint(window(c)); w != "[1 2]" {
		t.Fatalf("window %s", w)
	}
	c.complete(c.begin(), cmsg(), nil, "ch", fmt.Errorf("%w: term 3", wal.ErrFenced))
	t3 := c.begin()
	c.complete(t3, cmsg(), cid(3), "ch", nil)
	if w := window(c); len(w) != 0 {
		t.Fatalf("a fenced WAL still caches: %v", w)
	}
}

func TestCacheEvictsByBytes(t *testing.T) {
	c := activeCache(newCacheBudget(3 * (1 + entryOverhead)))
	for i := range 10 {
		c.complete(c.begin(), cmsg(), cid(int64(i)), "ch", nil)
	}
	if w := fmt.Sprint(window(c)); w != "[7 8 9]" {
		t.Fatalf("window %s, want the newest three", w)
	}
	if _, ok := c.read(0, nil); ok {
		t.Fatal("read of an evicted index")
	}
	if _, ok := c.after(cid(6)); ok {
		t.Fatal("after an evicted ID")
	}
}
