package pulsar_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

const testParkAfter = 50 * time.Millisecond

// waitParks waits until w's opener has parked at least n scanners.
func waitParks(t *testing.T, w walimpls.ROWALImpls, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for pulsar.Parks(w) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d parks after 20s, want %d", pulsar.Parks(w), n)
		}
		time.Sleep(5 * time.Millisecond) // polling a counter that has no event to wait on
	}
}

// expect reads the next len(want) messages of s and checks their payloads
// and that their IDs rise.
// tailFromM0 appends "m0" and opens a DeliverAll scanner on it, which the
// caller expects "m0" (and what follows) from and closes.
func tailFromM0(t *testing.T, w walimpls.WALImpls) walimpls.ScannerImpls {
	t.Helper()
	mustAppend(t, w, "m0", nil)
	s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func expect(t *testing.T, s walimpls.ScannerImpls, last message.MessageID, want ...string) message.MessageID {
	t.Helper()
	for _, p := range want {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				t.Fatalf("scanner ended waiting for %q: %v", p, s.Error())
			}
			if string(m.Payload()) != p {
				t.Fatalf("delivered %q, want %q", m.Payload(), p)
			}
			if last != nil && !last.LT(m.MessageID()) {
				t.Fatalf("ID %v after %v", m.MessageID(), last)
			}
			last = m.MessageID()
		case <-time.After(20 * time.Second):
			t.Fatalf("nothing delivered in 20s, want %q", p)
		}
	}
	return last
}

// expectQuiet checks that s delivers nothing more for a while.
func expectQuiet(t *testing.T, s walimpls.ScannerImpls) {
	t.Helper()
	select {
	case m, ok := <-s.Chan():
		t.Fatalf("delivered %q (open %v), want nothing", m.Payload(), ok)
	case <-time.After(300 * time.Millisecond):
	}
}

// A tailing scanner that idles parks (its Reader closed, so its 100 ms
// ack ticker stops) and wakes for the next message, again and again,
// delivering every message once and in order.
func TestIdleScannerParksAndWakes(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "park", walimpls.ReadWrite, pulsar.WithScannerParkAfter(testParkAfter))
	s := tailFromM0(t, w)
	defer s.Close()
	last := expect(t, s, nil, "m0")
	for round := int64(1); round <= 3; round++ {
		waitParks(t, w, round)
		var want []string
		for i := range 3 {
			p := fmt.Sprintf("r%d-%d", round, i)
			mustAppend(t, w, p, nil)
			want = append(want, p)
		}
		last = expect(t, s, last, want...)
	}
	expectQuiet(t, s)
}

// A scanner of an empty topic read from the earliest parks too, and wakes
// for the first message.
func TestEmptyTopicScannerParksAndWakes(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "park-empty", walimpls.ReadWrite, pulsar.WithScannerParkAfter(testParkAfter))
	s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitParks(t, w, 1)
	mustAppend(t, w, "first", nil)
	expect(t, s, nil, "first")
	expectQuiet(t, s)
}

// A message stored after the Reader closed and before the wake-up
// Consumer exists still wakes the scanner: the Consumer starts after the
// last position seen, not at the topic's end.
func TestMessageStoredWhileParkingIsDelivered(t *testing.T) {
	b := startBroker(t)
	var w walimpls.WALImpls
	var once sync.Once
	hook := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := w.Append(ctx, message.NewMutableMessage([]byte("while-parking"), nil)); err != nil {
				t.Error(err)
			}
		})
	}
	w = openWAL(t, b, "park-race", walimpls.ReadWrite, pulsar.WithScannerParkAfter(testParkAfter), pulsar.WithBeforePark(hook))
	s := tailFromM0(t, w)
	defer s.Close()
	last := expect(t, s, nil, "m0", "while-parking")
	mustAppend(t, w, "m1", nil)
	expect(t, s, last, "m1")
	expectQuiet(t, s)
}

// A parked scanner survives a broker restart: what is stored after it
// wakes the scanner, once, in order.
func TestParkedScannerAcrossBrokerRestart(t *testing.T) {
	if raceDetector {
		t.Skip("pulsar-client-go races on reconnect; TestFaultsWithoutRaceDetector runs this in a plain build")
	}
	b := startBroker(t)
	w := openWAL(t, b, "park-restart", walimpls.ReadWrite, pulsar.WithScannerParkAfter(testParkAfter))
	s := tailFromM0(t, w)
	defer s.Close()
	last := expect(t, s, nil, "m0")
	waitParks(t, w, 1)
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, w, "m1", nil)
	mustAppend(t, w, "m2", nil)
	expect(t, s, last, "m1", "m2")
	expectQuiet(t, s)
}

// Closing a parked scanner is prompt and ends its wake-up Consumer (the
// package's goleak check covers what it leaves).
func TestCloseParkedScanner(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "park-close", walimpls.ReadWrite, pulsar.WithScannerParkAfter(testParkAfter))
	s := tailFromM0(t, w)
	expect(t, s, nil, "m0")
	waitParks(t, w, 1)
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close of a parked scanner took %v", d)
	}
}

// With parking off, an idle scanner keeps its Reader.
func TestParkingOff(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "park-off", walimpls.ReadWrite, pulsar.WithScannerParkAfter(0))
	s := tailFromM0(t, w)
	defer s.Close()
	expect(t, s, nil, "m0")
	expectQuiet(t, s)
	if n := pulsar.Parks(w); n != 0 {
		t.Fatalf("%d parks with parking off", n)
	}
}
