package adaptor_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/impls/rmq"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// scaleBackends are the backends the many-channel tests run on: the
// reference driver and the embedded default (unsynced: the adaptor is
// under test, not fsync).
func scaleBackends(t testing.TB) map[string]walimpls.OpenerBuilderImpls {
	return map[string]walimpls.OpenerBuilderImpls{
		"memory": memory.NewBuilder(memory.WithStore(memory.NewStore())),
		"rmq":    rmq.NewBuilder(rmq.WithPath(t.TempDir()), rmq.WithSyncMode(rmq.SyncNone)),
	}
}

// openMany opens n ReadWrite WALs of fresh channels on o, a few at a time.
func openMany(ctx context.Context, t testing.TB, o wal.Opener, prefix string, n int) []wal.WAL {
	t.Helper()
	ws := make([]wal.WAL, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				w, err := o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: fmt.Sprintf("%s%d", prefix, i), Term: 1}})
				if err != nil {
					errs <- err
					continue
				}
				ws[i] = w
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("open: %v", err)
	}
	return ws
}

// TestManyChannelsHistory: one opener, 1,000 channels (100 with -short),
// a tailing scanner on each, 16 appenders spreading their appends over all
// of them with a write-ahead cache much smaller than what is appended (so
// entries are evicted across channels while scanners tail them); every
// acked message must be read exactly once, in order, per channel.
func TestManyChannelsHistory(t *testing.T) {
	channels, perChannel := 1000, 6
	if testing.Short() {
		channels = 100
	}
	for name, b := range scaleBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			// About a tenth of what is appended fits the cache.
			o, err := adaptor.NewOpenerBuilder(b, adaptor.WithWriteAheadCache(channels*perChannel*200/10)).Build()
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			ws := openMany(ctx, t, o, newChannel(t)+"-", channels)
			// One History per channel: Check compares every complete reader
			// with every attempt, so one for all would be quadratic.
			hists := make([]*walimplstest.History, channels)
			for i := range hists {
				hists[i] = walimplstest.NewHistory()
			}
			var readers sync.WaitGroup
			var fromCache, switches atomic.Int64
			names := make([]string, channels)
			for i, w := range ws {
				ch := w.Channel().Name
				names[i] = "r-" + ch
				s, err := w.Read(ctx, wal.ReadOption{Name: names[i]})
				if err != nil {
					t.Fatal(err)
				}
				readers.Add(1)
				go func() {
					defer readers.Done()
					defer func() {
						c, in, out := adaptor.ScannerStats(s)
						fromCache.Add(c)
						switches.Add(in + out)
						s.Close()
					}()
					end := ch + "/end/0"
					for {
						select {
						case m, ok := <-s.Chan():
							if !ok {
								t.Errorf("%s ended: %v", ch, s.Error())
								return
							}
							hists[i].Delivered(names[i], ch, appView(m))
							if m.Properties()[walimplstest.TagProperty] == end {
								return
							}
						case <-ctx.Done():
							t.Errorf("%s: no end marker before the deadline", ch)
							return
						}
					}
				}()
			}
			var appenders sync.WaitGroup
			for a := range 16 {
				appenders.Add(1)
				go func() {
					defer appenders.Done()
					for k := a; k < channels*perChannel; k += 16 {
						w := ws[k%channels]
						if _, err := histAppend(ctx, w, hists[k%channels], w.Channel().Name, fmt.Sprint("a", a), k/channels); err != nil {
							t.Errorf("append: %v", err)
							return
						}
					}
				}()
			}
			appenders.Wait()
			for i, w := range ws {
				if _, err := histAppend(ctx, w, hists[i], w.Channel().Name, "end", 0); err != nil {
					t.Fatalf("end marker: %v", err)
				}
			}
			readers.Wait()
			t.Logf("%d messages from the cache, %d switches", fromCache.Load(), switches.Load())
			for i, h := range hists {
				if h.Acked() != perChannel+1 {
					t.Fatalf("%s: %d acked, want %d", names[i], h.Acked(), perChannel+1)
				}
				for _, p := range h.Check(names[i]) {
					t.Error(p)
				}
			}
		})
	}
}

// TestCloseManyWALsAndScanners: closing an opener with 10,000 open WALs,
// each with a tailing scanner that has read its message, ends every
// scanner and returns within seconds; TestMain's goleak check finds
// nothing left running. Sized down under -short and the race detector.
func TestCloseManyWALsAndScanners(t *testing.T) {
	n := 10000
	if testing.Short() || raceBuild {
		n = 2000
	}
	ctx := context.Background()
	o, err := adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(memory.NewStore()))).Build()
	if err != nil {
		t.Fatal(err)
	}
	ws := openMany(ctx, t, o, newChannel(t)+"-", n)
	scanners := make([]wal.Scanner, n)
	for i, w := range ws {
		appendN(t, w, i, 1)
		s, err := w.Read(ctx, wal.ReadOption{})
		if err != nil {
			t.Fatal(err)
		}
		recv(t, s, 10*time.Second)
		scanners[i] = s
	}
	start := time.Now()
	o.Close()
	took := time.Since(start)
	t.Logf("closed %d WALs with a scanner each in %v", n, took)
	if took > 10*time.Second {
		t.Errorf("closing %d WALs with scanners took %v", n, took)
	}
	for _, s := range scanners {
		select {
		case <-s.Done():
		default:
			t.Fatalf("scanner %q still running after the opener closed", s.Name())
		}
	}
}
