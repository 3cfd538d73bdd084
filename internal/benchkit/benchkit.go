package benchkit

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Round runs op n times from conc goroutines and returns the wall time it
// took. The first error stops the goroutine that met it and is returned
// once all have ended.
func Round(conc, n int, op func() error) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := op(); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	err, _ := failed.Load().(error)
	return elapsed, err
}

// SettledHeap returns HeapInuse and the goroutine count after two
// collections, so that garbage of what ran before does not count.
func SettledHeap() (heapInuse uint64, goroutines int) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, runtime.NumGoroutine()
}

// CPUTime is the process's user and system CPU time so far; 0 where the
// system does not tell.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Sum adds durations.
func Sum(d []time.Duration) (s time.Duration) {
	for _, x := range d {
		s += x
	}
	return s
}
