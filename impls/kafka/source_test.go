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
	// Idle: one cold poll out for all of them, once they are cold (an idle
	// poll ends only at its end, pollWait; coolWait while scanners turn
	// cold). Over more than pollWait, polls ending with nothing must not
	// count as joins, which kept two polls of joinWait leapfrogging.
	waitCold(t, o)
	time.Sleep(coolWait + joinWait) // counting what idleness costs
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

// coldOf reports whether the cursors of topic (of every topic if "") are
// all cold, and how many cursors the opener's sources hold.
func coldOf(o walimpls.OpenerImpls, topic string) (cold bool, cursors int) {
	c := o.(*opener).client
	c.brokersMu.Lock()
	defer c.brokersMu.Unlock()
	cold = topic == ""
	for _, b := range c.brokers {
		b.mu.Lock()
		s := b.src
		b.mu.Unlock()
		if s == nil {
			continue
		}
		s.mu.Lock()
		for t, cs := range s.topics {
			cursors += len(cs)
			switch t {
			case topic:
				cold = len(cs) > 0
				fallthrough
			default:
				if topic == "" || t == topic {
					for _, cur := range cs {
						cold = cold && cur.cold
					}
				}
			}
		}
		s.mu.Unlock()
	}
	return cold, cursors
}

// waitCold waits until every scanner of each of ws's channels (of every
// channel if none) is in the cold poll.
func waitCold(t *testing.T, o walimpls.OpenerImpls, ws ...walimpls.WALImpls) {
	t.Helper()
	topics := []string{""}
	if len(ws) > 0 {
		topics = topics[:0]
		for _, w := range ws {
			topics = append(topics, w.(*wal).topic)
		}
	}
	within := idleAfter + pollWait + 2*time.Second
	deadline := time.Now().Add(within)
	for _, topic := range topics {
		for {
			if cold, _ := coldOf(o, topic); cold {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the scanners of %q are not cold %v after their last record (idleAfter %v)", topic, within, idleAfter)
			}
			time.Sleep(20 * time.Millisecond) // polling the source's state with a deadline
		}
	}
}

// countPolledParts counts the partitions that c's brokers are asked for
// in fetches that may wait (polls).
func countPolledParts(c *kafkatest.Cluster) *atomic.Int64 {
	var n atomic.Int64
	kc := c.Kfake()
	kc.ControlKey(int16(kmsg.Fetch), func(r kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if req := r.(*kmsg.FetchRequest); req.MaxWaitMillis > 0 {
			for _, tp := range req.Topics {
				n.Add(int64(len(tp.Partitions)))
			}
		}
		return nil, nil, false
	})
	return &n
}

// openTailed opens n channels, each with a DeliverAll scanner; with one,
// each gets a message that its scanner has read.
func openTailed(t *testing.T, o walimpls.OpenerImpls, n int, one bool) ([]walimpls.WALImpls, []walimpls.ScannerImpls) {
	t.Helper()
	ws := make([]walimpls.WALImpls, n)
	ss := make([]walimpls.ScannerImpls, n)
	for i := range ws {
		ws[i] = open(t, o, fmt.Sprintf("%s-%d", channelName(t), i), 1, walimpls.ReadWrite)
		if one {
			mustAppend(t, ws[i], "one", nil)
		}
		ss[i] = read(t, ws[i], walimpls.DeliverAll())
		if one {
			recvWithin(t, ss[i], 5*time.Second)
		}
	}
	return ws, ss
}

// TestBusyChannelDoesNotRepollIdleOnes: with many tailed channels idle and
// one busy, each append to the busy one costs a poll of the recently
// active partitions only, not of every tailed one (before, every record
// ended the one poll that all caught-up scanners shared, and the next
// carried all N partitions again: O(N) per append in client and broker).
// A record for an idle channel meanwhile reaches its scanner at once, and
// the channel turns hot, then cold again once quiet (idle → active →
// idle).
func TestBusyChannelDoesNotRepollIdleOnes(t *testing.T) {
	const n, appends = 100, 50
	c := startCluster(t)
	o := newOpener(t, c)
	idle, scanners := openTailed(t, o, n, true)
	busy := open(t, o, channelName(t)+"-busy", 1, walimpls.ReadWrite)
	bs := read(t, busy, walimpls.DeliverLatest())
	waitCold(t, o, idle...)
	parts := countPolledParts(c)

	for i := range appends {
		mustAppend(t, busy, fmt.Sprint(i), nil)
		recvWithin(t, bs, 5*time.Second)
		if i == appends/2 {
			// A record for an idle channel while the busy one is busy.
			begin := time.Now()
			mustAppend(t, idle[7], "late", nil)
			if m := recvWithin(t, scanners[7], pollWait); string(m.Payload()) != "late" {
				t.Fatalf("got %q", m.Payload())
			}
			if d := time.Since(begin); d > pollWait/2 {
				t.Errorf("a record for an idle channel reached its scanner after %v (pollWait %v)", d, pollWait)
			}
			if cold, _ := coldOf(o, idle[7].(*wal).topic); cold {
				t.Errorf("a channel that just got a record is still in the cold poll")
			}
		}
	}
	t.Logf("%d appends polled %d partitions", appends, parts.Load())
	// Each append ends the hot poll (and the late record the cold one once):
	// a few partitions per append, not n.
	if got, bound := parts.Load(), int64(appends*8+3*(n+1)); got > bound {
		t.Errorf("%d appends to one of %d tailed channels polled %d partitions, want at most %d", appends, n+1, got, bound)
	}
	waitCold(t, o, idle[7]) // idle again once quiet
	mustAppend(t, idle[7], "again", nil)
	if m := recvWithin(t, scanners[7], pollWait); string(m.Payload()) != "again" {
		t.Fatalf("got %q", m.Payload())
	}
}

// TestTailingAcrossHotAndCold: scanners of many channels tail while
// appends come to a few busy channels all the time and to the others
// after pauses longer than idleAfter (so their scanners move to the cold
// poll and back, some while the cold poll is re-sent); each scanner gets
// every message of its channel once, in order.
func TestTailingAcrossHotAndCold(t *testing.T) {
	n, rounds := 24, 30
	if testing.Short() {
		n, rounds = 8, 15
	}
	c := startCluster(t)
	o := newOpener(t, c)
	ws, ss := openTailed(t, o, n, false)
	sent := make([][]string, n)
	wentCold := false // channel 5 pauses 6 rounds: its scanner must go cold
	// Channel i gets a message in rounds that are multiples of i%6+1: the
	// busy ones every round, the others after pauses of up to 6 rounds
	// (more than idleAfter: each round lasts idleAfter/4).
	for r := range rounds {
		for i, w := range ws {
			if r%(i%6+1) == 0 {
				p := fmt.Sprintf("%d-%d", i, r)
				mustAppend(t, w, p, nil)
				sent[i] = append(sent[i], p)
			}
		}
		time.Sleep(idleAfter / 4) // pacing the workload, not waiting for a condition
		if cold, _ := coldOf(o, ws[5].(*wal).topic); cold {
			wentCold = true
		}
	}
	if !wentCold {
		t.Errorf("the scanner of a channel quiet for %v never went to the cold poll", 6*idleAfter/4)
	}
	for i, s := range ss {
		for k, want := range sent[i] {
			if m := recvWithin(t, s, pollWait+time.Second); string(m.Payload()) != want {
				t.Fatalf("channel %d, message %d: got %q, want %q", i, k, m.Payload(), want)
			}
		}
		select {
		case m := <-s.Chan():
			t.Fatalf("channel %d: an extra message %q after the %d sent", i, m.Payload(), len(sent[i]))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
