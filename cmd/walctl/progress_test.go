package main

import (
	"testing"
	"time"
)

// Rates wait for a second of data: the first status lines of a run used to
// divide a burst by a few microseconds (6049453 msg/s).
func TestMeterWaitsForASecond(t *testing.T) {
	start := time.Unix(1000, 0)
	m := newMeter(start)
	if s := m.rateString(start.Add(time.Millisecond), 6000); s != "" {
		t.Errorf("after 1ms: %q, want no rate yet", s)
	}
	if _, ok := m.rate(start.Add(999*time.Millisecond), 9000); ok {
		t.Error("a rate before a second has passed")
	}
	// Over the last second or a little more: 11000 messages since 999ms.
	if r, ok := m.rate(start.Add(2*time.Second), 20000); !ok || r < 10980 || r > 11000 {
		t.Errorf("after 2s and 20000: %v %v, want 11000 in 1.001s", r, ok)
	}
	// Later rates cover the last second or so, not the whole run.
	if r, ok := m.rate(start.Add(3*time.Second), 21000); !ok || r < 999 || r > 12000 {
		t.Errorf("after 3s: %v", r)
	}
	if s := m.rateString(start.Add(10*time.Second), 21000); s != ", 0 msg/s" {
		t.Errorf("idle: %q", s)
	}
}
