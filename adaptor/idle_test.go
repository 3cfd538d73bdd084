package adaptor_test

import (
	"context"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/wal"
)

// A quiet channel's tailing scanner goes back to the backend each time the
// cache has been idle for the recheck period (to see a new owner's
// messages). It must do so without reopening its driver scanner: before,
// every message followed by a quiet second cost a reconnect (15 new Kafka
// connections a second for 100 channels with a message every 2 s, and
// none on the bare driver).
func TestIdleTailingScannerDoesNotReconnect(t *testing.T) {
	fo, w, s, switches := tailingScanner(t, 5*time.Millisecond, 0)
	waitSwitch := func(toCache bool) {
		t.Helper()
		select {
		case got := <-switches:
			if got != toCache {
				t.Fatalf("switch to cache = %v, want %v", got, toCache)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no switch (to cache = %v)", toCache)
		}
	}
	const cycles = 5
	for i := range cycles {
		// Hold the driver scanner while appending, so the message is in
		// the cache when the scanner reads it from the backend: then it
		// switches to the cache, idles, and goes back to the backend.
		fo.hold.close()
		id := appendN(t, w, i, 1)[0]
		fo.hold.release()
		if m := recv(t, s, 10*time.Second); !m.MessageID().EQ(id) {
			t.Fatalf("cycle %d: got %v, want %v", i, m.MessageID(), id)
		}
		waitSwitch(true)
		waitSwitch(false)
	}
	expectNone(t, s, 20*time.Millisecond)
	if n := fo.reads.Load(); n != 1 {
		t.Fatalf("%d driver scanners opened for one idle tailing scanner over %d idle periods, want 1", n, cycles)
	}
}

// A scanner tailing a busy cache closes its paused driver scanner once the
// cache has delivered more than a few messages (resumeWindow) since the
// switch, so the paused one does not hold a second copy of them; the next
// return to the backend reopens, once.
func TestBusyTailingScannerClosesPausedDriverScanner(t *testing.T) {
	fo, w, s, switches := tailingScanner(t, time.Hour, 16)
	switchToCache(t, fo, w, s, switches)
	if n := fo.running.Load(); n != 1 {
		t.Fatalf("%d driver scanners running after the switch, want the paused one", n)
	}
	for i := 1; i <= 40; i++ { // more than the resume window
		appendN(t, w, i, 1)
		recv(t, s, 10*time.Second)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fo.running.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("paused driver scanner still running after %d cache deliveries", 40)
		}
		time.Sleep(time.Millisecond)
	}
	if fromCache, _, _ := adaptor.ScannerStats(s); fromCache < 40 {
		t.Fatalf("%d messages from the cache, want 40", fromCache)
	}
}

// tailingScanner opens a WAL with a write-ahead cache over a memory driver
// whose scanners can be held (fo.hold) and counted, and a DeliverLatest
// scanner of it; switches receives its switches (true: to the cache).
// Everything closes with the test.
func tailingScanner(t *testing.T, idleRecheck time.Duration, readAhead int) (*faultyOpener, wal.WAL, wal.Scanner, <-chan bool) {
	t.Helper()
	impl, _ := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	fo := newFaultyOpener(impl, faults{}, 1)
	fo.hold = newGate()
	o := adaptor.NewOpener(memory.Name, fo, adaptor.WithWriteAheadCache(1<<20), adaptor.WithIdleRecheck(idleRecheck))
	t.Cleanup(o.Close)
	w := open(t, o, newChannel(t), 1, wal.ReadWrite)
	switches := make(chan bool, 64)
	adaptor.SetSwitchHook(w, func(_ string, toCache bool) { switches <- toCache })
	s, err := w.Read(context.Background(), wal.ReadOption{Name: "tail", DeliverPolicy: wal.DeliverLatest(), ReadAheadBufferSize: readAhead})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return fo, w, s, switches
}

// One WAL's appends evict another WAL's cache entries (the budget is the
// opener's); a scanner whose next entries went falls back to the backend
// and still delivers every message once, in order.
func TestEvictionByAnotherWALFallsBackToTheBackend(t *testing.T) {
	impl, _ := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	fo := newFaultyOpener(impl, faults{}, 1)
	fo.hold = newGate()
	// About 60 entries of appendN's messages (9 bytes, the term property,
	// the entry overhead) fit.
	o := adaptor.NewOpener(memory.Name, fo, adaptor.WithWriteAheadCache(60*550))
	t.Cleanup(o.Close)
	quiet, busy := open(t, o, newChannel(t), 1, wal.ReadWrite), open(t, o, newChannel(t), 1, wal.ReadWrite)
	switches := make(chan bool, 64)
	adaptor.SetSwitchHook(quiet, func(_ string, toCache bool) { switches <- toCache })
	s, err := quiet.Read(context.Background(), wal.ReadOption{Name: "quiet", DeliverPolicy: wal.DeliverLatest(), ReadAheadBufferSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	switchToCache(t, fo, quiet, s, switches)
	// The consumer waits: the scanner takes one batch (32) from the cache,
	// the rest stay there.
	want := appendN(t, quiet, 1, 50)
	// The busy WAL needs a scanner to cache at all.
	bs, err := busy.Read(context.Background(), wal.ReadOption{Name: "busy", DeliverPolicy: wal.DeliverLatest()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Close() })
	for i := range 100 {
		appendN(t, busy, i, 1)
		recv(t, bs, 10*time.Second)
	}
	for _, id := range want {
		if m := recv(t, s, 10*time.Second); !m.MessageID().EQ(id) {
			t.Fatalf("got %v, want %v", m.MessageID(), id)
		}
	}
	expectNone(t, s, 20*time.Millisecond)
	if _, _, out := adaptor.ScannerStats(s); out == 0 {
		t.Fatal("the scanner never left the cache: its entries were not evicted")
	}
}

// switchToCache appends one message to w while fo holds its driver
// scanners, so the message is in the cache when s reads it from the
// backend, and waits for s to switch to the cache.
func switchToCache(t *testing.T, fo *faultyOpener, w wal.WAL, s wal.Scanner, switches <-chan bool) {
	t.Helper()
	fo.hold.close()
	appendN(t, w, 0, 1)
	fo.hold.release()
	recv(t, s, 10*time.Second)
	select {
	case toCache := <-switches:
		if !toCache {
			t.Fatal("scanner switched to the backend, want to the cache")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("scanner did not switch to the cache")
	}
}
