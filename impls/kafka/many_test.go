package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// TestManyChannelsAcrossRestart: one opener, 1,000 channels (100 with
// -short), each written by 16 appenders spread over all of them and tailed
// by a scanner from its start, while the cluster restarts once mid-way.
// The history checker sees every acked message read back exactly once, in
// order, on its channel; appends the restart cut off are unknown or not
// stored, never lost once acked. The channels share the opener's
// connections: a produce request per broker carries many partitions, one
// poll serves every caught-up scanner.
func TestManyChannelsAcrossRestart(t *testing.T) {
	channels, rounds := 1000, 4
	if testing.Short() {
		channels, rounds = 100, 6
	}
	const appenders = 16
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startCluster(t)
	o := newOpener(t, c)
	prefix := channelName(t) + "-"

	ws := make([]walimpls.WALImpls, channels)
	openAll := make(chan int)
	var opening sync.WaitGroup
	for range 16 {
		opening.Add(1)
		go func() {
			defer opening.Done()
			for i := range openAll {
				w, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: fmt.Sprint(prefix, i), Term: 1, AccessMode: walimpls.ReadWrite}})
				if err != nil {
					t.Errorf("Open %d: %v", i, err)
					continue
				}
				ws[i] = w
			}
		}()
	}
	for i := range channels {
		openAll <- i
	}
	close(openAll)
	opening.Wait()
	if t.Failed() {
		return
	}

	chk := walimplstest.NewChecker()
	endTags := make([]atomic.Pointer[string], channels)
	ended := make([]chan struct{}, channels)
	var readers sync.WaitGroup
	for i, w := range ws {
		ch := w.Channel().Name
		cr, err := chk.AddReader("tail", ch, true)
		if err != nil {
			t.Fatal(err)
		}
		s, err := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
		if err != nil {
			t.Fatal(err)
		}
		ended[i] = make(chan struct{}, 1)
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer s.Close()
			seenEnds := map[string]bool{}
			for {
				if tag := endTags[i].Load(); tag != nil && seenEnds[*tag] {
					return
				}
				select {
				case m, ok := <-s.Chan():
					if !ok {
						t.Errorf("scanner of %s ended: %v", ch, s.Error())
						return
					}
					for _, p := range cr.Deliver(m) {
						t.Errorf("%v", p)
					}
					if tag := m.Properties()[walimplstest.TagProperty]; strings.HasPrefix(tag, ch+"/end/") {
						seenEnds[tag] = true
					}
				case <-ended[i]:
				case <-ctx.Done():
					t.Errorf("%s: the end marker was not read before the deadline", ch)
					return
				}
			}
		}()
	}

	// appendOnce appends the seq-th message of appender to channel i and
	// records the outcome; it reports whether the append was acked.
	appendOnce := func(i int, appender string, seq int) (string, bool) {
		w := ws[i]
		a, msg := chk.NewAttempt(w.Channel().Name, appender, seq)
		id, err := w.Append(ctx, msg)
		for _, p := range chk.Done(a, id, err) {
			t.Errorf("%v", p)
		}
		if err != nil && (errors.Is(err, walimpls.ErrFenced) || errors.Is(err, walimpls.ErrClosed)) {
			t.Errorf("append to %s: %v", w.Channel().Name, err)
		}
		return a.Tag, err == nil
	}

	var acked atomic.Int64
	restarted := make(chan error, 1)
	go func() {
		// Restart once a third of the appends are acked, while the
		// appenders keep going.
		for acked.Load() < int64(channels*rounds/3) {
			select {
			case <-ctx.Done():
				restarted <- ctx.Err()
				return
			case <-time.After(time.Millisecond):
			}
		}
		at := acked.Load()
		err := c.Restart(ctx)
		if err == nil && at >= int64(channels*rounds) {
			err = errors.New("the appends were over before the restart began")
		}
		t.Logf("restarted after %d acked appends", at)
		restarted <- err
	}()
	var appending sync.WaitGroup
	for a := range appenders {
		appending.Add(1)
		go func() {
			defer appending.Done()
			name := fmt.Sprint("a", a)
			for k := a; k < channels*rounds; k += appenders {
				if _, ok := appendOnce(k%channels, name, k); ok {
					acked.Add(1)
				}
				if t.Failed() || ctx.Err() != nil {
					return
				}
			}
		}()
	}
	appending.Wait()
	if err := <-restarted; err != nil {
		t.Fatalf("Restart: %v", err)
	}
	// An end marker per channel, appended until acked: its reader stops
	// once it read it.
	for i := range ws {
		for seq := 0; ; seq++ {
			if tag, ok := appendOnce(i, "end", seq); ok {
				endTags[i].Store(&tag)
				ended[i] <- struct{}{}
				break
			}
			if t.Failed() || ctx.Err() != nil {
				t.Fatalf("no end marker acked on %s", ws[i].Channel().Name)
			}
		}
	}
	readers.Wait()
	for _, p := range chk.Finish() {
		t.Errorf("%v", p)
	}
	st := chk.Stats()
	t.Logf("%d channels: %d appends, %d acked, %d not stored, %d unknown (%d of them read)", channels, st.Attempts, st.Acked, st.NotStored, st.Unknown, st.UnknownRead)
	if st.Acked < int64(channels*rounds/2) {
		t.Errorf("only %d of %d appends acked", st.Acked, channels*rounds)
	}
}
