package pulsartest

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest/internal/pb"
)

type producer struct {
	c         *conn
	t         *topic
	id        uint64
	name      string
	exclusive bool
}

func (b *Broker) handleProducer(c *conn, p *pb.CommandProducer) {
	reqID := p.GetRequestId()
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := c.producers[p.GetProducerId()]; old != nil {
		// A retried PRODUCER for a producer this connection already has
		// (the client retries after a timeout): answer as before.
		c.write(b.producerSuccess(reqID, old), nil)
		return
	}
	t, err := b.topicLocked(p.GetTopic())
	if err != nil {
		c.writeError(reqID, topicErrorCode(err), err.Error())
		return
	}
	name := p.GetProducerName()
	if name == "" {
		// Unique across broker instances on one data directory, so a new
		// producer never inherits another's deduplication state.
		b.nextProducer++
		name = fmt.Sprintf("pulsartest-%s-%d", b.instance, b.nextProducer)
	}
	if hook := b.producerHook; hook != nil {
		req := ProducerRequest{Topic: t.name, Name: name, Exclusive: p.GetProducerAccessMode() != pb.ProducerAccessMode_Shared, TopicEpoch: -1}
		if p.TopicEpoch != nil {
			req.TopicEpoch = int64(p.GetTopicEpoch())
		}
		if err := hook(req); err != nil {
			c.writeError(reqID, pb.ServerError_ServiceNotReady, err.Error())
			return
		}
	}
	mode := p.GetProducerAccessMode()
	if !b.cfg.exclusive {
		mode = pb.ProducerAccessMode_Shared // a broker before 2.8 knows no access modes
	}
	// The checks of a real broker (AbstractTopic.incrementTopicEpochIfNeeded,
	// then internalAddProducer), in its order and with its error codes: an
	// exclusive request that meets any producer, or brings an older topic
	// epoch, is ProducerFenced; a shared one next to an exclusive one, or a
	// second producer with a name already connected, is ProducerBusy.
	exclusive := mode != pb.ProducerAccessMode_Shared
	for other := range t.producers {
		switch {
		case other.exclusive && exclusive:
			c.writeError(reqID, pb.ServerError_ProducerFenced,
				fmt.Sprintf("Topic has an existing exclusive producer: %s", other.name))
			return
		case other.exclusive:
			c.writeError(reqID, pb.ServerError_ProducerBusy,
				fmt.Sprintf("Topic has an existing exclusive producer: %s", other.name))
			return
		case exclusive:
			c.writeError(reqID, pb.ServerError_ProducerFenced, "Topic has existing shared producers")
			return
		}
	}
	if exclusive && p.TopicEpoch != nil && p.GetTopicEpoch() < t.epoch {
		// A producer that comes back with an older epoch was replaced by a
		// newer exclusive producer meanwhile.
		c.writeError(reqID, pb.ServerError_ProducerFenced,
			fmt.Sprintf("Topic epoch has already moved. Current epoch: %d, Producer epoch: %d", t.epoch, p.GetTopicEpoch()))
		return
	}
	for other := range t.producers {
		if other.name == name {
			c.writeError(reqID, pb.ServerError_ProducerBusy,
				fmt.Sprintf("Producer with name '%s' is already connected to topic", name))
			return
		}
	}
	pr := &producer{c: c, t: t, id: p.GetProducerId(), name: name, exclusive: exclusive}
	if exclusive {
		// A new producer (no epoch yet) moves the epoch on; a reconnecting
		// one keeps the epoch it brings.
		if p.TopicEpoch != nil {
			t.epoch = p.GetTopicEpoch()
		} else {
			t.epoch++
		}
		if t.file != nil {
			if err := t.file.appendEpoch(t.epoch); err != nil {
				c.writeError(reqID, pb.ServerError_PersistenceError, err.Error())
				return
			}
		}
	}
	t.producers[pr] = struct{}{}
	c.producers[pr.id] = pr
	c.write(b.producerSuccess(reqID, pr), nil)
}

func (b *Broker) producerSuccess(reqID uint64, p *producer) *pb.BaseCommand {
	last := int64(-1)
	if b.cfg.dedup {
		if v, ok := p.t.lastSeq[p.name]; ok {
			last = v
		}
	}
	r := command(pb.BaseCommand_PRODUCER_SUCCESS)
	r.ProducerSuccess = &pb.CommandProducerSuccess{
		RequestId:      proto.Uint64(reqID),
		ProducerName:   proto.String(p.name),
		LastSequenceId: proto.Int64(last),
		ProducerReady:  proto.Bool(true),
	}
	if p.exclusive {
		r.ProducerSuccess.TopicEpoch = proto.Uint64(p.t.epoch)
	}
	return r
}

func (b *Broker) handleCloseProducer(c *conn, cp *pb.CommandCloseProducer) {
	b.mu.Lock()
	if p := c.producers[cp.GetProducerId()]; p != nil {
		delete(p.t.producers, p)
		delete(c.producers, p.id)
	}
	b.mu.Unlock()
	c.writeSuccess(cp.GetRequestId())
}

// errDropConnection asks the read loop to close the connection quietly: a
// fault hook fired, nothing is wrong with the client.
type errDropConnection struct{ reason string }

func (e errDropConnection) Error() string { return "pulsartest: fault hook: " + e.reason }

func (b *Broker) handleSend(c *conn, s *pb.CommandSend, hp []byte) error {
	meta, _, err := parsePayload(hp)
	if err != nil {
		// A real broker answers a checksum error with SEND_ERROR, which
		// makes the client close the connection and resend; closing it here
		// has the same effect and also covers metadata it cannot parse.
		return fmt.Errorf("pulsartest: SEND from producer %d seq %d: %w", s.GetProducerId(), s.GetSequenceId(), err)
	}
	info := infoOf(meta)
	seq := s.GetSequenceId()
	highest := max(seq, s.GetHighestSequenceId())

	b.mu.Lock()
	defer b.mu.Unlock()
	p := c.producers[s.GetProducerId()]
	if p == nil {
		// As a real broker: a send for a producer that is gone is ignored.
		c.log.Warn("pulsartest: SEND for unknown producer", "producer", s.GetProducerId())
		return nil
	}
	t := p.t
	receipt := command(pb.BaseCommand_SEND_RECEIPT)
	receipt.SendReceipt = &pb.CommandSendReceipt{
		ProducerId:        proto.Uint64(p.id),
		SequenceId:        proto.Uint64(seq),
		HighestSequenceId: proto.Uint64(highest),
	}
	if b.cfg.dedup {
		if last, ok := t.lastSeq[p.name]; ok && int64(highest) <= last {
			// The receipt a real broker gives a duplicate: -1:-1.
			receipt.SendReceipt.MessageId = &pb.MessageIdData{
				LedgerId: proto.Uint64(math.MaxUint64),
				EntryId:  proto.Uint64(math.MaxUint64),
			}
			b.sendReceiptLocked(c, receipt)
			return nil
		}
	}
	// The frame buffer is reused for the next read: keep a copy.
	idx, err := t.append(t.keep(hp), info)
	if err != nil {
		c.log.Error("pulsartest: store failed", "topic", t.name, "err", err)
		e := command(pb.BaseCommand_SEND_ERROR)
		e.SendError = &pb.CommandSendError{
			ProducerId: proto.Uint64(p.id),
			SequenceId: proto.Uint64(seq),
			Error:      pb.ServerError_PersistenceError.Enum(),
			Message:    proto.String(err.Error()),
		}
		c.write(e, nil)
		return nil
	}
	// A chunked message sends every chunk with its sequence id; only the
	// last chunk completes it, as on a real broker.
	if !s.GetIsChunk() || meta.GetChunkId() == meta.GetNumChunksFromMsg()-1 {
		t.lastSeq[p.name] = int64(highest)
	}
	for _, sub := range t.subs {
		sub.dispatchLocked()
	}
	e := t.at(idx)
	if b.dropReceiptLocked(StoredMessage{
		Topic: t.name, Producer: p.name, SequenceID: seq,
		LedgerID: int64(e.ledger), EntryID: int64(e.id), NumMessages: int(info.numMessages),
	}) {
		return errDropConnection{"receipt dropped after store"}
	}
	receipt.SendReceipt.MessageId = t.idData(idx)
	b.sendReceiptLocked(c, receipt)
	if b.cfg.maxEntries > 0 && t.nextEntry >= uint64(b.cfg.maxEntries) {
		t.rollLocked()
	}
	return nil
}
