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
// run must deliver every acked message exactly once, in order. Slow readers
// fall behind by waiting for the appenders to get ahead, not by sleeping;
// and each run ends with a phase that makes one scanner switch to the cache
// and fall out of it for certain, so the switch is exercised both ways in
// every run, however the machine schedules the rest.
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
}

// cacheWindowMessages is more than the cache of runCacheSwitch (4 KiB)
// holds, plus what a scanner can hold beyond its consumer (its channel and
// one batch read from the cache).
const cacheWindowMessages = 200

func runCacheSwitch(t *testing.T, seed uint64) (fromCache, switchesIn, switchesOut int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	impl, _ := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	fo := newFaultyOpener(impl, faults{AppendDelay: 100 * time.Microsecond}, seed)
	fo.hold = newGate()
	o := adaptor.NewOpener(memory.Name, fo, adaptor.WithWriteAheadCache(4<<10))
	defer o.Close()
	ch := newChannel(t)
	w, err := o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: ch, Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	hist := walimplstest.NewHistory()
	endTag := ch + "/end/0"
	acked := newProgress()
	lateSwitches := make(chan bool, 1024) // never full: a full one would block the scanner
	adaptor.SetSwitchHook(w, func(scanner string, toCache bool) {
		if scanner == "late" {
			lateSwitches <- toCache
		}
	})

	var stats sync.Mutex
	addStats := func(s wal.Scanner) {
		c, i, o := adaptor.ScannerStats(s)
		stats.Lock()
		fromCache, switchesIn, switchesOut = fromCache+c, switchesIn+i, switchesOut+o
		stats.Unlock()
	}
	follow := func(name string, pauseEvery int, started chan<- struct{}) {
		s, err := w.Read(ctx, wal.ReadOption{Name: name, ReadAheadBufferSize: 8})
		if started != nil {
			close(started)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		defer func() { addStats(s); s.Close() }()
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
					// A slow consumer: let the appenders get a window ahead.
					acked.waitFor(ctx, acked.get()+cacheWindowMessages)
				}
			case <-ctx.Done():
				t.Errorf("%s: no end marker before the deadline", name)
				return
			}
		}
	}
	appendOne := func(writer string, seq int) message.MessageID {
		id, err := histAppend(ctx, w, hist, ch, writer, seq)
		if err != nil {
			t.Errorf("append: %v", err)
			return nil
		}
		acked.add()
		return id
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
				if appendOne(fmt.Sprint("a", a), seq) == nil {
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
	acked.finish()
	fo.armed.Store(false) // no more append delays: the last phase appends one by one // slow readers stop waiting for appends that will not come

	late := switchBothWays(t, ctx, w, fo.hold, lateSwitches, hist, ch, appendOne)
	if late != nil {
		defer func() { addStats(late); late.Close() }()
	}
	if appendOne("end", 0) == nil {
		t.FailNow()
	}
	readers.Wait()
	if late != nil {
		for m := recv(t, late, 10*time.Second); ; m = recv(t, late, 10*time.Second) {
			hist.Delivered("late", ch, appView(m))
			if m.Properties()[walimplstest.TagProperty] == endTag {
				break
			}
		}
	}
	for _, p := range hist.Check("fast", "slow", "late") {
		t.Error(p)
	}
	return fromCache, switchesIn, switchesOut
}

// switchBothWays opens a scanner from the start and, once it has caught up
// with the appends so far, makes it switch to the cache and then out of it,
// deterministically:
//   - in: the driver scanners are held while one message is appended, so
//     it is published to the cache before the scanner reads it from the
//     backend; the scanner then finds it in the cache window and switches;
//   - out: the scanner's consumer stops while more messages than the
//     window holds are appended; when it resumes, the window has moved
//     past the scanner's position and it goes back to the backend.
func switchBothWays(t *testing.T, ctx context.Context, w wal.WAL, hold *gate, switches <-chan bool,
	hist *walimplstest.History, ch string, appendOne func(writer string, seq int) message.MessageID) wal.Scanner {
	t.Helper()
	s, err := w.Read(ctx, wal.ReadOption{Name: "late", ReadAheadBufferSize: 8})
	if err != nil {
		t.Errorf("late: %v", err)
		return nil
	}
	readUntil := func(id message.MessageID) {
		for {
			m := recv(t, s, 10*time.Second)
			hist.Delivered("late", ch, appView(m))
			if !m.MessageID().LT(id) {
				return
			}
		}
	}
	// Switch events come in order, and every event of a scanner comes
	// before it delivers the messages that follow. onCache waits until
	// the latest event says the scanner is on the cache; nextOut waits for
	// a switch back to the backend after the events consumed so far.
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	onCache := false
	onCacheNow := func() {
		for {
			select {
			case onCache = <-switches:
				continue
			default:
			}
			if onCache {
				return
			}
			select {
			case onCache = <-switches:
			case <-timer.C:
				t.Fatal("late scanner: did not switch to the cache")
			}
		}
	}
	nextOut := func() {
		for {
			select {
			case onCache = <-switches:
				if !onCache {
					return
				}
			case <-timer.C:
				t.Fatal("late scanner: did not fall back to the backend")
			}
		}
	}
	hold.close()
	first := appendOne("late-in", 0)
	hold.release()
	readUntil(first)
	onCacheNow()

	var last message.MessageID
	for seq := range cacheWindowMessages {
		last = appendOne("late-out", seq)
	}
	readUntil(last)
	nextOut()
	return s
}

// progress counts acked appends; waitFor waits until there are n, or no
// more will come.
type progress struct {
	mu      sync.Mutex
	n       int
	done    bool
	changed chan struct{}
}

func newProgress() *progress { return &progress{changed: make(chan struct{})} }

func (p *progress) get() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *progress) add() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *progress) waitFor(ctx context.Context, n int) {
	for {
		p.mu.Lock()
		if p.n >= n || p.done {
			p.mu.Unlock()
			return
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}
