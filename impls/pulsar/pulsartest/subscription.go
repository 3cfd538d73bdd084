package pulsartest

import (
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest/internal/pb"
)

// subscription is a cursor over a topic's entries plus the consumers
// attached to it. Readers get a non-durable subscription that disappears
// with their consumer; durable ones keep (and persist) their mark-delete
// position and individual acknowledgements.
type subscription struct {
	t       *topic
	name    string
	durable bool
	subType pb.CommandSubscribe_SubType

	markDelete int              // entries up to this index are acknowledged
	acked      map[int]struct{} // individually acknowledged, > markDelete
	readPos    int              // next entry never dispatched since the last rewind
	redeliver  []int            // sorted indexes to dispatch before readPos
	redelivers map[int]uint32   // redelivery count per entry index

	consumers []*consumer
	rr        int // round-robin position for Shared
}

type consumer struct {
	c       *conn
	id      uint64
	sub     *subscription
	permits int64
	unacked map[int]struct{} // dispatched to this consumer, not acknowledged
}

func newSubscription(t *topic, name string, durable bool, markDelete int) *subscription {
	return &subscription{
		t: t, name: name, durable: durable,
		markDelete: markDelete,
		readPos:    markDelete + 1,
		acked:      map[int]struct{}{},
		redelivers: map[int]uint32{},
	}
}

func (s *subscription) isAcked(i int) bool {
	if i <= s.markDelete {
		return true
	}
	_, ok := s.acked[i]
	return ok
}

// rewind restarts dispatch after the mark-delete position, skipping what
// was acknowledged individually: what a real broker does when the last
// consumer of a subscription goes away, and why unacknowledged messages are
// redelivered on reconnect.
func (s *subscription) rewind() {
	s.readPos = s.markDelete + 1
	s.redeliver = nil
}

// resetTo moves the cursor so that entry i is the next one delivered, as a
// seek does; acknowledgements at and after i are forgotten.
func (s *subscription) resetTo(i int) {
	s.markDelete = i - 1
	s.acked = map[int]struct{}{}
	s.redelivers = map[int]uint32{}
	s.rewind()
}

func (s *subscription) addRedeliver(i int) {
	if s.isAcked(i) {
		return
	}
	s.redelivers[i]++
	if j, found := slices.BinarySearch(s.redeliver, i); !found {
		s.redeliver = slices.Insert(s.redeliver, j, i)
	}
}

func (s *subscription) removeConsumer(cs *consumer) {
	s.consumers = slices.DeleteFunc(s.consumers, func(o *consumer) bool { return o == cs })
	for i := range cs.unacked {
		s.addRedeliver(i)
	}
	cs.unacked = nil
	if len(s.consumers) > 0 {
		s.dispatchLocked()
		return
	}
	if !s.durable {
		delete(s.t.subs, s.name)
		return
	}
	s.rewind()
}

// next returns the index of the next entry to dispatch, or -1.
func (s *subscription) next() int {
	for len(s.redeliver) > 0 {
		i := s.redeliver[0]
		s.redeliver = s.redeliver[1:]
		if i >= s.t.base && !s.isAcked(i) {
			return i
		}
	}
	// A reader's cursor can fall behind trimming: it goes on at the first
	// retained entry, as a real broker's does.
	s.readPos = max(s.readPos, s.t.base)
	for s.readPos < s.t.end() {
		i := s.readPos
		s.readPos++
		if !s.isAcked(i) {
			return i
		}
	}
	return -1
}

// pick chooses the consumer for the next entry: the first consumer for
// Exclusive and Failover (the active one), round robin among consumers with
// permits for Shared and Key_Shared.
func (s *subscription) pick() *consumer {
	if len(s.consumers) == 0 {
		return nil
	}
	if s.subType == pb.CommandSubscribe_Exclusive || s.subType == pb.CommandSubscribe_Failover {
		if cs := s.consumers[0]; cs.permits > 0 {
			return cs
		}
		return nil
	}
	for range s.consumers {
		s.rr = (s.rr + 1) % len(s.consumers)
		if cs := s.consumers[s.rr]; cs.permits > 0 {
			return cs
		}
	}
	return nil
}

// dispatchLocked sends entries while a consumer has permits. Permits count
// messages, so a batch takes as many as it holds and may drive them
// negative, as on a real broker.
func (s *subscription) dispatchLocked() {
	if s.t.b.paused {
		return
	}
	for {
		cs := s.pick()
		if cs == nil {
			return
		}
		i := s.next()
		if i < 0 {
			return
		}
		e := s.t.at(i)
		cs.permits -= int64(e.info.numMessages)
		cs.unacked[i] = struct{}{}
		m := command(pb.BaseCommand_MESSAGE)
		m.Message = &pb.CommandMessage{
			ConsumerId: proto.Uint64(cs.id),
			MessageId:  &pb.MessageIdData{LedgerId: proto.Uint64(e.ledger), EntryId: proto.Uint64(e.id)},
		}
		if n := s.redelivers[i]; n > 0 {
			m.Message.RedeliveryCount = proto.Uint32(n)
		}
		cs.c.write(m, e.data)
	}
}

func (s *subscription) ackOne(i int) {
	if s.isAcked(i) {
		return
	}
	s.acked[i] = struct{}{}
	for _, cs := range s.consumers {
		delete(cs.unacked, i)
	}
	delete(s.redelivers, i)
	s.advance()
}

// advance folds individual acks that follow the mark-delete position into it.
func (s *subscription) advance() {
	for {
		if _, ok := s.acked[s.markDelete+1]; !ok {
			return
		}
		delete(s.acked, s.markDelete+1)
		s.markDelete++
	}
}

func (s *subscription) ackCumulative(i int) {
	if i <= s.markDelete {
		return
	}
	for j := s.markDelete + 1; j <= i; j++ {
		delete(s.acked, j)
		delete(s.redelivers, j)
		for _, cs := range s.consumers {
			delete(cs.unacked, j)
		}
	}
	s.markDelete = i
	s.advance()
}

// persistLocked writes a durable cursor to disk. A failure is logged, not
// returned: the acknowledgement protocol has no error path for the client
// without a request id, and a real broker also just logs a failed
// mark-delete persist.
func (s *subscription) persistLocked() {
	if !s.durable || s.t.file == nil {
		return
	}
	if err := s.t.file.appendCursor(s); err != nil {
		s.t.b.log.Error("pulsartest: persist cursor", "topic", s.t.name, "sub", s.name, "err", err)
	}
}

// markDeleteIDData is the mark-delete position on the wire: the last
// acknowledged entry, or (ledger, -1) when nothing is.
func (s *subscription) markDeleteIDData() *pb.MessageIdData {
	if _, ok := s.t.posOf(s.markDelete); !ok {
		id := s.t.idData(-1)
		if len(s.t.entries) > 0 {
			id.LedgerId = proto.Uint64(s.t.entries[0].ledger)
		}
		return id
	}
	return s.t.idData(s.markDelete)
}

// isPartialAck reports whether an ack carries a batch-index ack set with
// messages still unacknowledged (set bits are the ones remaining). Such an
// ack does not acknowledge the entry.
func isPartialAck(id *pb.MessageIdData) bool {
	for _, w := range id.GetAckSet() {
		if w != 0 {
			return true
		}
	}
	return false
}

// closeRequestID is the request id a broker puts in commands it initiates.
const closeRequestID = math.MaxUint64
