package kafka

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// recvWithin waits up to d for the scanner's next message.
func recvWithin(t *testing.T, s walimpls.ScannerImpls, d time.Duration) message.ImmutableMessage {
	t.Helper()
	select {
	case m, ok := <-s.Chan():
		if !ok {
			t.Fatalf("scanner ended: %v", s.Error())
		}
		return m
	case <-time.After(d):
		t.Fatalf("no message within %v", d)
	}
	return nil
}

// countFetches counts the Fetch requests c's brokers get from now on.
func countFetches(c *kafkatest.Cluster) *atomic.Int64 {
	var n atomic.Int64
	kc := c.Kfake()
	kc.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		n.Add(1)
		return nil, nil, false
	})
	return &n
}

// TestIdleChannelsShareConnections: many channels of one opener, each
// written once and tailed by a scanner that read its message, hold a fixed
// number of connections (a pool, a produce connection and a poll per
// broker, whatever the number of channels), one goroutine per scanner and
// none per idle writer, and cost one fetch request per poll for all of
// them.
func TestIdleChannelsShareConnections(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 50
	}
	c := startCluster(t)
	fetches := countFetches(c)
	o := newOpener(t, c)
	g0 := runtime.NumGoroutine()
	for i := range n {
		w := open(t, o, fmt.Sprintf("%s-%d", channelName(t), i), 1, walimpls.ReadWrite)
		mustAppend(t, w, "one", nil)
		recvWithin(t, read(t, w, walimpls.DeliverAll()), 5*time.Second)
	}
	if conns, bound := c.Connections(), maxPoolConns+1+maxPolls; conns > bound {
		t.Errorf("%d channels with a scanner each hold %d connections, want at most %d (one broker)", n, conns, bound)
	}
	// Goroutines: one per scanner (its read loop), none per writer; a few
	// fetches may still be out.
	// The in-process brokers run a few goroutines per connection.
	if g, bound := runtime.NumGoroutine()-g0, n+3*(maxPoolConns+1+maxPolls); g > bound {
		t.Errorf("%d idle channels with a scanner each run %d goroutines, want at most %d", n, g, bound)
	}
	// Idle: one poll out for all of them (the test cluster answers a poll
	// only at its end, pollWait; joinWait for a second after a join). Over
	// more than pollWait, polls ending with nothing must not count as
	// joins, which kept two polls of joinWait leapfrogging.
	time.Sleep(joinQuiet + 2*joinWait) // counting what idleness costs
	f0 := fetches.Load()
	time.Sleep(pollWait + joinWait)
	if f := fetches.Load() - f0; f > 2 {
		t.Errorf("%d idle scanners sent %d fetches in %v, want at most 2 (one poll for all per pollWait)", n, f, pollWait+joinWait)
	}
}

// TestJoiningScannerDoesNotWaitForThePoll: a scanner that catches up while
// another's poll is out (waiting up to pollWait at the broker) is polled
// at once in a poll that supersedes it, so a message appended right after
// reaches it without waiting for the first poll to end.
func TestJoiningScannerDoesNotWaitForThePoll(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	idle := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	s1 := read(t, idle, walimpls.DeliverLatest())
	mustAppend(t, idle, "a", nil)
	recvWithin(t, s1, 5*time.Second) // s1 is caught up: its poll is out
	for range 3 {
		w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
		s := read(t, w, walimpls.DeliverLatest())
		mustAppend(t, w, "b", nil)
		begin := time.Now()
		if m := recvWithin(t, s, pollWait); string(m.Payload()) != "b" {
			t.Fatalf("got %q", m.Payload())
		}
		if d := time.Since(begin); d > pollWait/2 {
			t.Errorf("a scanner that joined while a poll was out got its message after %v (pollWait %v)", d, pollWait)
		}
	}
}

// TestLeaderMoveMovesIdleScanners: after a leader move that a writer of
// the opener notices (its produce is refused by the old leader), the
// opener's idle scanners of that topic leave the old leader's poll at
// once instead of at its end.
func TestLeaderMoveMovesIdleScanners(t *testing.T) {
	c := startCluster(t, kafkatest.WithBrokers(2))
	o := newOpener(t, c)
	w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	s := read(t, w, walimpls.DeliverLatest())
	mustAppend(t, w, "before", nil)
	recvWithin(t, s, 5*time.Second)
	if _, err := c.MoveLeader(w.(*wal).topic, 0); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	mustAppend(t, w, "after", nil) // refused by the old leader, then sent to the new one
	if m := recvWithin(t, s, pollWait); string(m.Payload()) != "after" {
		t.Fatalf("got %q", m.Payload())
	}
	if d := time.Since(begin); d > pollWait/2 {
		t.Errorf("the scanner got the first message after the leader move after %v (pollWait %v)", d, pollWait)
	}
}
