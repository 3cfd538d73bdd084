package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// stall makes the broker answer every produce with REQUEST_TIMED_OUT
// (after storing it), starts an append and waits until the writer is
// resending its batch. Removing the returned fault lets the resend through.
func stall(t *testing.T, c *kafkatest.Cluster, o walimpls.OpenerImpls, w walimpls.WALImpls) (*kfake.FaultHandle, <-chan outcome) {
	t.Helper()
	h := c.FailRequests(kmsg.Produce, "", kerr.RequestTimedOut, -1)
	res := make(chan outcome, 1)
	go func() {
		id, err := w.Append(context.Background(), message.NewMutableMessage([]byte("stalled"), nil))
		res <- outcome{id, err}
	}()
	wr := o.(*opener).writerOf(w.Channel().Name)
	waitFor(t, "the writer to resend its batch", wr.stalledNow)
	return h, res
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestQueueBoundWhileBatchUnresolved: while the broker does not answer a
// batch, appends queue behind it only up to MaxQueuedAppends and
// MaxQueuedBytes; beyond, they fail at once with a retryable error and are
// never written.
func TestQueueBoundWhileBatchUnresolved(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		size   int // payload bytes
		queued int // appends that fit
	}{
		{"count", Config{MaxQueuedAppends: 4}, 10, 4},
		{"bytes", Config{MaxQueuedBytes: 1500}, 600, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t)
			cfg := tc.cfg
			cfg.Brokers = c.Addrs()
			o := newOpener(t, c, WithConfig(cfg))
			w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
			wr := o.(*opener).writerOf(w.Channel().Name)
			h, first := stall(t, c, o, w)
			var wg sync.WaitGroup
			results := make([]outcome, tc.queued)
			for i := range tc.queued {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id, err := w.Append(context.Background(), message.NewMutableMessage([]byte(fmt.Sprintf("%d%s", i, strings.Repeat("q", tc.size))), nil))
					results[i] = outcome{id, err}
				}()
				waitFor(t, "the append to queue", func() bool { n, _ := wr.queuedNow(); return n == i+1 })
			}
			begin := time.Now()
			_, err := w.Append(context.Background(), message.NewMutableMessage([]byte("over"+strings.Repeat("q", tc.size)), nil))
			if !errors.Is(err, walimpls.ErrUnavailable) || !walimpls.IsRetryable(err) || time.Since(begin) > time.Second {
				t.Fatalf("append over the bound: %v after %v, want ErrUnavailable at once", err, time.Since(begin))
			}
			h.Remove()
			if r := <-first; r.err != nil {
				t.Fatalf("stalled append after the broker answered: %v", r.err)
			}
			wg.Wait()
			for i, r := range results {
				if r.err != nil {
					t.Fatalf("queued append %d: %v", i, r.err)
				}
			}
			msgs := readAll(t, w)
			if len(msgs) != 1+tc.queued {
				t.Fatalf("log holds %d messages, want %d (the stalled one and the queued ones, not the refused one)", len(msgs), 1+tc.queued)
			}
			for _, m := range msgs {
				if strings.HasPrefix(string(m.Payload()), "over") {
					t.Fatal("the refused append is in the log")
				}
			}
		})
	}
}

// TestAbandonedAppendsLeaveTheQueue: appends whose context ends while they
// wait behind an unanswered batch return "not stored" and leave the queue
// at once, so an outage does not keep their memory.
func TestAbandonedAppendsLeaveTheQueue(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	wr := o.(*opener).writerOf(w.Channel().Name)
	h, first := stall(t, c, o, w)
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, errs[i] = w.Append(ctx, message.NewMutableMessage([]byte(fmt.Sprint("abandoned ", i)), nil))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, walimpls.ErrOutcomeUnknown) {
			t.Fatalf("abandoned append %d: %v, want its context's deadline (not stored)", i, err)
		}
	}
	if q, b := wr.queuedNow(); q != 0 || b != 0 {
		t.Fatalf("%d appends (%d bytes) still queued after every appender gave up", q, b)
	}
	h.Remove()
	r := <-first
	if r.err != nil {
		t.Fatal(r.err)
	}
	next := mustAppend(t, w, "next", nil)
	msgs := readAll(t, w)
	if len(msgs) != 2 || string(msgs[1].Payload()) != "next" || msgs[1].MessageID().(helper.Int64ID).Value() != next {
		t.Fatalf("log after the outage: %d messages, want the stalled one and next", len(msgs))
	}
}

// TestCloseIsBoundedWhileBatchUnresolved: Close during an outage returns
// promptly; the unanswered batch's append learns its outcome is unknown,
// the queued ones that they were not written.
func TestCloseIsBoundedWhileBatchUnresolved(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	wr := o.(*opener).writerOf(w.Channel().Name)
	_, first := stall(t, c, o, w)
	const n = 50
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := w.Append(context.Background(), message.NewMutableMessage([]byte(fmt.Sprint(i)), nil))
			errs <- err
		}()
	}
	waitFor(t, "the appends to queue", func() bool { q, _ := wr.queuedNow(); return q == n })
	begin := time.Now()
	w.Close()
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("Close took %v during an outage", d)
	}
	if r := <-first; !errors.Is(r.err, walimpls.ErrOutcomeUnknown) {
		t.Fatalf("the unanswered append after Close: %v, want ErrOutcomeUnknown", r.err)
	}
	for range n {
		if err := <-errs; !errors.Is(err, walimpls.ErrClosed) || errors.Is(err, walimpls.ErrOutcomeUnknown) {
			t.Fatalf("a queued append after Close: %v, want ErrClosed (not stored)", err)
		}
	}
}
