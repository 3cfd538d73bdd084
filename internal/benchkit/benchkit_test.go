package benchkit

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoundRunsEachOpOnce(t *testing.T) {
	var ran atomic.Int64
	if _, err := Round(4, 1000, func() error { ran.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	if got := ran.Load(); got != 1000 {
		t.Fatalf("ran %d ops, want 1000", got)
	}
}

func TestRoundReturnsTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	var ran atomic.Int64
	_, err := Round(2, 100, func() error {
		if ran.Add(1) == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Round = %v, want boom", err)
	}
}

func TestSettledHeapCountsGoroutines(t *testing.T) {
	_, before := SettledHeap()
	stop := make(chan struct{})
	go func() { <-stop }()
	_, during := SettledHeap()
	close(stop)
	if during != before+1 {
		t.Fatalf("goroutines %d then %d, want one more", before, during)
	}
}

func TestCPUTimeAndSum(t *testing.T) {
	start := CPUTime()
	deadline := time.Now().Add(20 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	if CPUTime() <= start {
		t.Fatal("CPU time did not grow while spinning")
	}
	if got := Sum([]time.Duration{time.Second, 2 * time.Second}); got != 3*time.Second {
		t.Fatalf("Sum = %s", got)
	}
}

func ExampleRound() {
	elapsed, err := Round(8, 10000, func() error { return nil })
	_, _ = elapsed, err
	// Output:
}
