package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in buckets a quarter of a power of two wide
// (1 µs resolution, ~19% relative error), lock-free, so every append and
// every delivery can be recorded on a long run.
type histogram struct {
	counts [histBuckets]atomic.Int64
	n      atomic.Int64
	sum    atomic.Int64 // µs
	max    atomic.Int64 // µs
}

// histBuckets covers 1 µs to beyond 10^12 µs.
const histBuckets = 4 * 42

// bucketOf maps µs to its bucket: exact below 4, then four buckets per
// power of two.
func bucketOf(us int64) int {
	if us < 4 {
		return int(max(us, 0))
	}
	e := bits.Len64(uint64(us)) - 1 // 2^e <= us < 2^(e+1), e >= 2
	m := int(us>>(e-2)) & 3
	return min(4*(e-1)+m, histBuckets-1)
}

// bucketUpper is the largest µs value bucket i holds.
func bucketUpper(i int) int64 {
	if i < 4 {
		return int64(i)
	}
	e := i/4 + 1
	m := int64(i % 4)
	return (4+m+1)<<(e-2) - 1
}

func (h *histogram) record(d time.Duration) {
	us := d.Microseconds()
	h.counts[bucketOf(us)].Add(1)
	h.n.Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// snapshot is a histogram's counts at one moment; the difference of two is
// the window between them.
type snapshot struct {
	counts [histBuckets]int64
	n, sum int64
	max    int64
}

func (h *histogram) snapshot() snapshot {
	var s snapshot
	for i := range s.counts {
		s.counts[i] = h.counts[i].Load()
	}
	s.n, s.sum, s.max = h.n.Load(), h.sum.Load(), h.max.Load()
	return s
}

// since is s minus an earlier snapshot (its max is the whole run's).
func (s snapshot) since(old snapshot) snapshot {
	d := s
	for i := range d.counts {
		d.counts[i] -= old.counts[i]
	}
	d.n -= old.n
	d.sum -= old.sum
	return d
}

// quantile is the upper bound of the bucket holding quantile q, at most max.
func (s snapshot) quantile(q float64) time.Duration {
	if s.n == 0 {
		return 0
	}
	rank := int64(q*float64(s.n) + 0.5)
	rank = max(1, min(rank, s.n))
	var seen int64
	for i, c := range s.counts {
		if seen += c; seen >= rank {
			return time.Duration(min(bucketUpper(i), s.max)) * time.Microsecond
		}
	}
	return time.Duration(s.max) * time.Microsecond
}

// jsonHistogram is a histogram in the verify report; times in milliseconds.
type jsonHistogram struct {
	Count   int64        `json:"count"`
	MeanMS  float64      `json:"mean_ms"`
	P50MS   float64      `json:"p50_ms"`
	P90MS   float64      `json:"p90_ms"`
	P99MS   float64      `json:"p99_ms"`
	P999MS  float64      `json:"p999_ms"`
	MaxMS   float64      `json:"max_ms"`
	Buckets []jsonBucket `json:"buckets"`
}

// jsonBucket counts the values up to LeMS (and above the previous bucket).
type jsonBucket struct {
	LeMS  float64 `json:"le_ms"`
	Count int64   `json:"count"`
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (s snapshot) json() jsonHistogram {
	j := jsonHistogram{Count: s.n, P50MS: msf(s.quantile(0.5)), P90MS: msf(s.quantile(0.9)), P99MS: msf(s.quantile(0.99)),
		P999MS: msf(s.quantile(0.999)), MaxMS: float64(s.max) / 1000, Buckets: []jsonBucket{}}
	if s.n > 0 {
		j.MeanMS = float64(s.sum) / float64(s.n) / 1000
	}
	for i, c := range s.counts {
		if c > 0 {
			j.Buckets = append(j.Buckets, jsonBucket{LeMS: float64(bucketUpper(i)) / 1000, Count: c})
		}
	}
	return j
}
