package adaptor

import (
	"testing"
	"time"
)

func TestJitterStaysInHalfToFull(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 2, 10 * time.Millisecond, 2 * time.Second} {
		for range 1000 {
			if j := jitter(d); j < d/2 || j > d {
				t.Fatalf("jitter(%v) = %v, outside [d/2, d]", d, j)
			}
		}
	}
}

func TestScannerBackoffOption(t *testing.T) {
	o := newOptions([]Option{WithScannerBackoff(5*time.Millisecond, time.Second)})
	if o.backoffStart != 5*time.Millisecond || o.backoffMax != time.Second {
		t.Fatalf("backoff %v..%v", o.backoffStart, o.backoffMax)
	}
	// A max below the start is ignored rather than inverting the range.
	o = newOptions([]Option{WithScannerBackoff(time.Second, time.Millisecond)})
	if o.backoffMax < o.backoffStart {
		t.Fatalf("backoff %v..%v", o.backoffStart, o.backoffMax)
	}
}
