package pulsartest

import "github.com/mqwal/mqwal/impls/pulsar/pulsartest/internal/pb"

// StoredMessage describes an entry the broker has just stored, before its
// SEND_RECEIPT goes out. It is what a store hook sees.
type StoredMessage struct {
	Topic       string
	Producer    string
	SequenceID  uint64
	LedgerID    int64
	EntryID     int64
	NumMessages int
}

// DropNextReceipt arms a one-shot fault: the next message stored on topic
// (any topic if topic is "") is stored, then its connection is closed
// instead of sending the receipt. The client sees a lost receipt and resends
// on reconnect: without deduplication that stores the message twice, with
// it the broker answers the resend as a duplicate. Calls accumulate.
func (b *Broker) DropNextReceipt(topic string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropNext[topic]++
}

// SetStoreHook installs fn, called with the broker lock held after each
// stored entry and before its receipt; when it returns true the connection
// is closed instead of sending the receipt. fn must not call the Broker. A
// nil fn removes the hook.
func (b *Broker) SetStoreHook(fn func(StoredMessage) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.storeHook = fn
}

// ProducerRequest describes a PRODUCER command, as a producer hook sees it.
// TopicEpoch is -1 when the producer brings none (a new producer; a
// reconnecting one brings the epoch it was given).
type ProducerRequest struct {
	Topic      string
	Name       string
	Exclusive  bool
	TopicEpoch int64
}

// SetProducerHook installs fn, called with the broker lock held for every
// PRODUCER before anything else is checked; when it returns an error the
// producer is refused with ServiceNotReady and that text, which
// pulsar-client-go retries with backoff when it reconnects (a new producer
// gets the error). It models a client that cannot reach the broker: a
// partition that outlives the broker's view of the connection. fn must not
// call the Broker. A nil fn removes the hook.
func (b *Broker) SetProducerHook(fn func(ProducerRequest) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.producerHook = fn
}

// dropReceiptLocked reports whether the receipt for m must be dropped.
func (b *Broker) dropReceiptLocked(m StoredMessage) bool {
	for _, key := range [2]string{m.Topic, ""} {
		if b.dropNext[key] > 0 {
			b.dropNext[key]--
			return true
		}
	}
	return b.storeHook != nil && b.storeHook(m)
}

// PauseReceipts keeps storing messages but holds back their SEND_RECEIPTs,
// so sends stay pending in the client. A fault injected meanwhile (Restart,
// DropConnections) discards the held receipts and makes the client resend;
// ResumeReceipts sends those still held, in order.
func (b *Broker) PauseReceipts() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.receiptsPaused = true
}

// ResumeReceipts undoes PauseReceipts.
func (b *Broker) ResumeReceipts() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.receiptsPaused = false
	for c := range b.conns {
		for _, r := range c.held {
			c.write(r, nil)
		}
		c.held = nil
	}
}

func (b *Broker) sendReceiptLocked(c *conn, r *pb.BaseCommand) {
	if b.receiptsPaused || len(c.held) > 0 {
		c.held = append(c.held, r)
		return
	}
	c.write(r, nil)
}

// PauseDelivery stops sending MESSAGE frames to every consumer; permits keep
// accumulating. Sends, receipts and all requests are still answered.
func (b *Broker) PauseDelivery() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.paused = true
}

// ResumeDelivery undoes PauseDelivery and delivers what waited.
func (b *Broker) ResumeDelivery() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.paused = false
	for _, t := range b.topics {
		for _, s := range t.subs {
			s.dispatchLocked()
		}
	}
}

// NumMessages returns how many messages (not entries: a batch counts as its
// size) topic holds, or 0 for an unknown topic. Tests use it to prove a
// duplicate was not stored.
func (b *Broker) NumMessages(topic string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[topic]
	if t == nil {
		return 0
	}
	n := 0
	for i := range t.entries { // retained ones
		n += int(t.entries[i].info.numMessages)
	}
	return n
}

// NumConnections returns the number of client connections currently open.
func (b *Broker) NumConnections() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}
