package adaptor_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// TestCacheSwitchUnderConcurrentAppends: concurrent appenders whose
// completions are reordered by random driver delays, a write-ahead cache of
// a few dozen messages, and scanners of different speeds, so each switches
// between catch-up (backend) and tailing (cache) many times. Repeated; every
// run must deliver every acked message exactly once, in order, and the runs
// together must have switched both ways.
func TestCacheSwitchUnderConcurrentAppends(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 5
	}
	var fromCache, in, out int64
	for i := range runs {
		c, si, so := runCacheSwitch(t, uint64(i))
		fromCache, in, out = fromCache+c, in+si, out+so
		if t.Failed() {
			break
		}
	}
	t.Logf("%d runs: %d messages from the cache, %d switches to the cache, %d back to the backend", runs, fromCache, in, out)
	if fromCache == 0 || in == 0 || out == 0 {
		t.Fatalf("the switch was not exercised: %d from cache, %d in, %d out", fromCache, in, out)
	}
}

func runCacheSwitch(t *testing.T, seed uint64) (fromCache, switchesIn, switchesOut int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	impl, _ := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	fo := newFaultyOpener(impl, faults{AppendDelay: 100 * time.Microsecond}, seed)
	o := adaptor.NewOpener(memory.Name, fo, adaptor.WithWriteAheadCache(4<<10))
	defer o.Close()
	ch := newChannel(t)
	w, err := o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: ch, Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	hist := walimplstest.NewHistory()
	endTag := ch + "/end/0"

	var stats sync.Mutex
	follow := func(name string, pauseEvery int, started chan<- struct{}) {
		s, err := w.Read(ctx, wal.ReadOption{Name: name, ReadAheadBufferSize: 8})
		if started != nil {
			close(started)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		defer func() {
			c, i, o := adaptor.ScannerStats(s)
			stats.Lock()
			fromCache, switchesIn, switchesOut = fromCache+c, switchesIn+i, switchesOut+o
			stats.Unlock()
			s.Close()
		}()
		for n := 1; ; n++ {
			select {
			case m, ok := <-s.Chan():
				if !ok {
					t.Errorf("%s ended: %v", name, s.Error())
					return
				}
				hist.Delivered(name, ch, appView(m))
				if m.Properties()[walimplstest.TagProperty] == endTag {
					return
				}
				if pauseEvery > 0 && n%pauseEvery == 0 {
					time.Sleep(200 * time.Microsecond) // a slow consumer falls out of the window
				}
			case <-ctx.Done():
				t.Errorf("%s: no end marker before the deadline", name)
				return
			}
		}
	}
	var readers sync.WaitGroup
	started := make(chan struct{})
	readers.Add(2)
	go func() { defer readers.Done(); follow("fast", 0, started) }()
	go func() { defer readers.Done(); follow("slow", 25, nil) }()
	<-started

	var appenders sync.WaitGroup
	for a := range 4 {
		appenders.Add(1)
		go func() {
			defer appenders.Done()
			for seq := range 150 {
				at, msg := hist.NewAttempt(ch, fmt.Sprint("a", a), seq)
				res, err := w.Append(ctx, msg)
				var id message.MessageID
				if res != nil {
					id = res.MessageID
				}
				hist.Done(at, id, err)
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				if a == 0 && seq == 75 {
					readers.Add(1)
					go func() { defer readers.Done(); follow("mid", 40, nil) }()
				}
			}
		}()
	}
	appenders.Wait()
	at, msg := hist.NewAttempt(ch, "end", 0)
	res, err := w.Append(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	hist.Done(at, res.MessageID, nil)
	readers.Wait()
	for _, p := range hist.Check("fast", "slow") {
		t.Error(p)
	}
	return fromCache, switchesIn, switchesOut
}
