package pulsartest

import (
	"fmt"
	"slices"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest/internal/pb"
)

func (b *Broker) handleSubscribe(c *conn, s *pb.CommandSubscribe) {
	reqID := s.GetRequestId()
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.consumers[s.GetConsumerId()] != nil {
		// A retried SUBSCRIBE (the client retries after a timeout).
		c.writeSuccess(reqID)
		return
	}
	if b.topics[s.GetTopic()] == nil && s.ForceTopicCreation != nil && !s.GetForceTopicCreation() {
		// A pattern consumer subscribes to the topics it listed, without
		// creating one that went meanwhile.
		c.writeError(reqID, pb.ServerError_TopicNotFound, "Topic "+s.GetTopic()+" does not exist")
		return
	}
	t, err := b.topicLocked(s.GetTopic())
	if err != nil {
		c.writeError(reqID, topicErrorCode(err), err.Error())
		return
	}
	name := s.GetSubscription()
	sub := t.subs[name]
	if sub == nil {
		sub = t.newSubscriptionFor(s)
		t.subs[name] = sub
		sub.persistLocked()
	} else if len(sub.consumers) > 0 {
		switch {
		case sub.subType != s.GetSubType():
			c.writeError(reqID, pb.ServerError_ConsumerBusy,
				fmt.Sprintf("Subscription is of different type: %v", sub.subType))
			return
		case sub.subType == pb.CommandSubscribe_Exclusive || !sub.durable:
			c.writeError(reqID, pb.ServerError_ConsumerBusy, "Exclusive consumer is already connected")
			return
		}
	}
	sub.subType = s.GetSubType()
	cs := &consumer{c: c, id: s.GetConsumerId(), sub: sub, unacked: map[int]struct{}{}}
	sub.consumers = append(sub.consumers, cs)
	c.consumers[cs.id] = cs
	c.writeSuccess(reqID)
}

// newSubscriptionFor places a new cursor. A durable one starts at the
// initial position; a reader starts at the entry of its start message id,
// inclusively even when the reader is exclusive: the client gets the whole
// entry (a batch may hold messages after the start id) and drops what lies
// before its start itself. The client never sends the batch index of a
// start id, so the broker could not do better.
func (t *topic) newSubscriptionFor(s *pb.CommandSubscribe) *subscription {
	start := t.end()
	if s.GetInitialPosition() == pb.CommandSubscribe_Earliest {
		start = t.base
	}
	durable := s.GetDurable()
	if id := s.GetStartMessageId(); !durable && id != nil {
		start = t.search(int64(id.GetLedgerId()), int64(id.GetEntryId()))
	}
	return newSubscription(t, s.GetSubscription(), durable, start-1)
}

func (b *Broker) handleFlow(c *conn, f *pb.CommandFlow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cs := c.consumers[f.GetConsumerId()]
	if cs == nil {
		return
	}
	cs.permits += int64(f.GetMessagePermits())
	cs.sub.dispatchLocked()
}

func (b *Broker) handleAck(c *conn, a *pb.CommandAck) {
	b.mu.Lock()
	cs := c.consumers[a.GetConsumerId()]
	if cs != nil {
		sub := cs.sub
		for _, id := range a.GetMessageId() {
			i := sub.t.find(id.GetLedgerId(), id.GetEntryId())
			if i < 0 || isPartialAck(id) {
				continue
			}
			if a.GetAckType() == pb.CommandAck_Cumulative {
				sub.ackCumulative(i)
			} else {
				sub.ackOne(i)
			}
		}
		sub.persistLocked()
		if sub.durable {
			sub.t.trimLocked() // the slowest subscription may have moved
		}
	}
	b.mu.Unlock()
	if a.RequestId != nil {
		r := command(pb.BaseCommand_ACK_RESPONSE)
		r.AckResponse = &pb.CommandAckResponse{
			ConsumerId: proto.Uint64(a.GetConsumerId()),
			RequestId:  proto.Uint64(a.GetRequestId()),
		}
		if cs == nil {
			r.AckResponse.Error = pb.ServerError_ConsumerNotFound.Enum()
			r.AckResponse.Message = proto.String("consumer not found")
		}
		c.write(r, nil)
	}
}

func (b *Broker) handleRedeliver(c *conn, r *pb.CommandRedeliverUnacknowledgedMessages) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cs := c.consumers[r.GetConsumerId()]
	if cs == nil {
		return
	}
	sub := cs.sub
	if len(r.GetMessageIds()) == 0 {
		for i := range cs.unacked {
			sub.addRedeliver(i)
		}
		clear(cs.unacked)
	} else {
		for _, id := range r.GetMessageIds() {
			i := sub.t.find(id.GetLedgerId(), id.GetEntryId())
			if _, ok := cs.unacked[i]; i >= 0 && ok {
				delete(cs.unacked, i)
				sub.addRedeliver(i)
			}
		}
	}
	sub.dispatchLocked()
}

// handleSeek resets the cursor, then, as a real broker does, disconnects the
// subscription's consumers with CLOSE_CONSUMER before answering SUCCESS: the
// client clears its queue when the seek succeeds and resubscribes from the
// seek position.
func (b *Broker) handleSeek(c *conn, sk *pb.CommandSeek) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cs := c.consumers[sk.GetConsumerId()]
	if cs == nil {
		c.writeError(sk.GetRequestId(), pb.ServerError_ConsumerNotFound, "consumer not found")
		return
	}
	sub, t := cs.sub, cs.sub.t
	var i int
	switch {
	case sk.MessageId != nil:
		i = t.search(int64(sk.MessageId.GetLedgerId()), int64(sk.MessageId.GetEntryId()))
	case sk.MessagePublishTime != nil:
		ts := sk.GetMessagePublishTime()
		i = t.base + sort.Search(len(t.entries), func(j int) bool { return t.entries[j].info.publishTime >= ts })
	default:
		c.writeError(sk.GetRequestId(), pb.ServerError_MetadataError, "seek without message id or publish time")
		return
	}
	sub.resetTo(i)
	sub.persistLocked()
	for _, o := range slices.Clone(sub.consumers) {
		delete(o.c.consumers, o.id)
		cc := command(pb.BaseCommand_CLOSE_CONSUMER)
		cc.CloseConsumer = &pb.CommandCloseConsumer{
			ConsumerId: proto.Uint64(o.id),
			RequestId:  proto.Uint64(closeRequestID),
		}
		o.c.write(cc, nil)
	}
	// A reader's non-durable subscription stays too: the client resubscribes
	// with its old start message id, which a real broker ignores for a
	// subscription that exists, so the reset cursor is what counts.
	sub.consumers = nil
	c.writeSuccess(sk.GetRequestId())
}

func (b *Broker) handleGetLastMessageID(c *conn, g *pb.CommandGetLastMessageId) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cs := c.consumers[g.GetConsumerId()]
	if cs == nil {
		c.writeError(g.GetRequestId(), pb.ServerError_ConsumerNotFound, "consumer not found")
		return
	}
	r := command(pb.BaseCommand_GET_LAST_MESSAGE_ID_RESPONSE)
	r.GetLastMessageIdResponse = &pb.CommandGetLastMessageIdResponse{
		RequestId:                  proto.Uint64(g.GetRequestId()),
		LastMessageId:              cs.sub.t.lastIDData(),
		ConsumerMarkDeletePosition: cs.sub.markDeleteIDData(),
	}
	c.write(r, nil)
}

func (b *Broker) handleCloseConsumer(c *conn, cc *pb.CommandCloseConsumer) {
	b.mu.Lock()
	if cs := c.consumers[cc.GetConsumerId()]; cs != nil {
		delete(c.consumers, cs.id)
		cs.sub.removeConsumer(cs)
	}
	b.mu.Unlock()
	c.writeSuccess(cc.GetRequestId())
}

func (b *Broker) handleUnsubscribe(c *conn, u *pb.CommandUnsubscribe) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cs := c.consumers[u.GetConsumerId()]
	if cs == nil {
		c.writeError(u.GetRequestId(), pb.ServerError_ConsumerNotFound, "consumer not found")
		return
	}
	sub := cs.sub
	if len(sub.consumers) > 1 && !u.GetForce() {
		c.writeError(u.GetRequestId(), pb.ServerError_ConsumerBusy, "Subscription has other connected consumers")
		return
	}
	for _, o := range sub.consumers {
		delete(o.c.consumers, o.id)
	}
	sub.consumers = nil
	delete(sub.t.subs, sub.name)
	if sub.durable && sub.t.file != nil {
		if err := sub.t.file.appendUnsubscribe(sub.name); err != nil {
			c.writeError(u.GetRequestId(), pb.ServerError_PersistenceError, err.Error())
			return
		}
	}
	sub.t.trimLocked()
	c.writeSuccess(u.GetRequestId())
}
