package pulsar_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// Many channels on one opener keep every guarantee (issue 18): 16
// appenders spread over 1,000 channels (100 under -short and -race), a tailing
// scanner on each, the broker restarted halfway (plain build only: the
// client races on reconnect, see harness); the history checker then finds
// every acknowledged message read exactly once, in order, by the tailing
// scanner and by a scanner opened afterwards, per channel.
func TestManyChannels(t *testing.T) {
	n, perChannel := 1000, 4
	if testing.Short() || raceDetector {
		n = 100 // the race build runs the full size with the restart in a plain build (TestFaultsWithoutRaceDetector)
	}
	restart := !raceDetector
	b := startBroker(t)
	o, err := builder(b).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		t0 := time.Now()
		o.Close()
		t.Logf("opener closed in %v", time.Since(t0))
	}()
	ctx := context.Background()
	start := time.Now()
	ws := make([]walimpls.WALImpls, n)
	tails := make([]walimpls.ScannerImpls, n)
	for i := range ws {
		if ws[i], err = o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: fmt.Sprintf("many-%d", i), Term: 1}}); err != nil {
			t.Fatal(err)
		}
		if tails[i], err = ws[i].Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("opened %d channels and scanners after %v", n, time.Since(start))
	// One history per channel: History.Check compares every complete reader
	// with every attempt, which is quadratic over thousands of channels.
	hs := make([]*walimplstest.History, n)
	for i := range hs {
		hs[i] = walimplstest.NewHistory()
	}
	var readers sync.WaitGroup
	last := make([]chan string, n) // the channel's end marker, once appends are over
	for i, s := range tails {
		last[i] = make(chan string, 1)
		readers.Add(1)
		go func() {
			defer readers.Done()
			readUntilLast(t, hs[i], "tail", ws[i].Channel().Name, s, last[i])
		}()
	}

	const appenders = 16
	total := n * perChannel
	var done sync.WaitGroup
	var restarted sync.Once
	for a := range appenders {
		done.Add(1)
		go func() {
			defer done.Done()
			for k := 0; a+k*appenders < total; k++ {
				j := a + k*appenders
				if restart && j >= total/2 {
					restarted.Do(func() {
						if err := b.Restart(); err != nil {
							t.Error(err)
						}
					})
				}
				w, h := ws[j%n], hs[j%n]
				at, msg := h.NewAttempt(w.Channel().Name, fmt.Sprint("appender-", a), k)
				id, err := w.Append(ctx, msg)
				h.Done(at, id, err)
				if err != nil && !walimpls.IsRetryable(err) && !errors.Is(err, walimpls.ErrOutcomeUnknown) {
					t.Errorf("append to %s: %v", w.Channel().Name, err)
					return
				}
			}
		}()
	}
	done.Wait()
	t.Logf("appended after %v", time.Since(start))
	if t.Failed() {
		t.FailNow()
	}
	// An end marker per channel (as the harness's checker does): a reader
	// that has read it has read everything acknowledged before it. Then a
	// scanner opened afterwards reads the channel again.
	for i, w := range ws {
		tag := appendMarker(t, hs[i], w)
		last[i] <- tag
		s, err := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
		if err != nil {
			t.Fatal(err)
		}
		after := make(chan string, 1)
		after <- tag
		readUntilLast(t, hs[i], "after", w.Channel().Name, s, after)
	}
	t.Logf("read back after %v", time.Since(start))
	readers.Wait()
	t.Logf("tailing scanners done after %v", time.Since(start))
	if t.Failed() {
		t.FailNow()
	}
	var problems []walimplstest.Problem
	acked := 0
	for _, h := range hs {
		problems = append(problems, h.Check("tail", "after")...)
		acked += h.Acked() - 1 // less the end marker
	}
	t.Logf("checked after %v", time.Since(start))
	for i, p := range problems {
		if i == 20 {
			t.Errorf("... %d problems in all", len(problems))
			break
		}
		t.Error(p)
	}
	if acked < total/2 {
		t.Errorf("only %d of %d appends acknowledged", acked, total)
	}
	t.Logf("%d channels, %d of %d appends acknowledged, broker restarted: %v", n, acked, total, restart)
}

// appendMarker appends an end marker to w until one is acknowledged and
// returns its tag.
func appendMarker(t *testing.T, h *walimplstest.History, w walimpls.WALImpls) string {
	deadline := time.Now().Add(30 * time.Second)
	for k := 0; ; k++ {
		at, msg := h.NewAttempt(w.Channel().Name, "end", k)
		id, err := w.Append(context.Background(), msg)
		h.Done(at, id, err)
		if err == nil {
			return at.Tag
		}
		if time.Now().After(deadline) {
			t.Fatalf("end marker of %s: %v", w.Channel().Name, err)
		}
	}
}

// readUntilLast records what s delivers in h until it has delivered the
// end marker whose tag is sent on last, then closes s.
func readUntilLast(t *testing.T, h *walimplstest.History, reader, channel string, s walimpls.ScannerImpls, last <-chan string) {
	defer func() { _ = s.Close() }()
	var until string
	seen := map[string]bool{}
	timeout := time.After(2 * time.Minute)
	for {
		if until != "" && seen[until] {
			return
		}
		select {
		case tag := <-last:
			until = tag
		case m, ok := <-s.Chan():
			if !ok {
				t.Errorf("%s ended: %v", reader, s.Error())
				return
			}
			h.Delivered(reader, channel, m)
			tag, _ := m.Properties().Get(walimplstest.TagProperty)
			seen[tag] = true
		case <-timeout:
			t.Errorf("%s: no end marker %q after 2 minutes", reader, until)
			return
		}
	}
}
