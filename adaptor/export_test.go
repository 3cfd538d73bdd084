package adaptor

import (
	"fmt"
	"time"

	"github.com/mqwal/mqwal/wal"
)

// ScannerStats reports how a scanner read: messages taken from the cache,
// switches from the backend to the cache and back.
func ScannerStats(s wal.Scanner) (fromCache, switchesIn, switchesOut int64) {
	x := s.(*scanner)
	return x.fromCache.Load(), x.switchesIn.Load(), x.switchesOut.Load()
}

// CacheSettled reports whether w's write-ahead cache has no append in
// flight or waiting to be published: every ticket it handed out completed.
func CacheSettled(w wal.WAL) (settled bool, state string) {
	c := w.(*walAdaptor).cache
	c.mu.Lock()
	defer c.mu.Unlock()
	state = fmt.Sprintf("next ticket %d, lowest incomplete %d, %d pending", c.next, c.low, len(c.pending))
	return c.low == c.next && len(c.pending) == 0, state
}

// SetSwitchHook makes w tell f of every switch of one of its scanners
// between the backend and the cache (toCache false: back to the backend).
// Call it before w's first Read; f runs on the scanner's goroutine.
func SetSwitchHook(w wal.WAL, f func(scanner string, toCache bool)) {
	w.(*walAdaptor).switchHook = f
}

// WithIdleRecheck shortens how long a scanner tails an unchanged cache
// before it reads the backend again (cacheIdleRecheck).
func WithIdleRecheck(d time.Duration) Option {
	return optionFunc(func(o *options) { o.idleRecheck = d })
}
