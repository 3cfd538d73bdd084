package adaptor

import "github.com/mqwal/mqwal/wal"

// ScannerStats reports how a scanner read: messages taken from the cache,
// switches from the backend to the cache and back.
func ScannerStats(s wal.Scanner) (fromCache, switchesIn, switchesOut int64) {
	x := s.(*scanner)
	return x.fromCache.Load(), x.switchesIn.Load(), x.switchesOut.Load()
}
