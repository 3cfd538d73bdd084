package main

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	for us := int64(0); us < 1<<20; us = us*5/4 + 1 {
		i := bucketOf(us)
		if us > bucketUpper(i) || (i > 0 && us <= bucketUpper(i-1)) {
			t.Fatalf("%dµs in bucket %d, which holds (%d, %d]", us, i, bucketUpper(i-1), bucketUpper(i))
		}
	}
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	s := h.snapshot()
	for q, want := range map[float64]time.Duration{0.5: 500 * time.Millisecond, 0.99: 990 * time.Millisecond, 1: time.Second} {
		got := s.quantile(q)
		if got < want || got > want*5/4 {
			t.Errorf("quantile %v = %v, want %v (+25%%)", q, got, want)
		}
	}
	j := s.json()
	var n int64
	for _, b := range j.Buckets {
		n += b.Count
	}
	if j.Count != 1000 || n != 1000 || j.MaxMS != 1000 || j.MeanMS < 500 || j.MeanMS > 501 {
		t.Errorf("json %+v", j)
	}
	w := h.snapshot().since(s)
	if w.n != 0 || w.quantile(0.5) != 0 {
		t.Errorf("an empty window: %+v", w.n)
	}
}
