package kafka

import (
	"encoding/binary"
	kafkago "github.com/segmentio/kafka-go"
)

func varint(b []byte) (int64, int) { return binary.Varint(b) }

var kafkaInvalidEpoch = kafkagoInvalidProducerEpoch

const kafkagoInvalidProducerEpoch = kafkago.InvalidProducerEpoch

func (wr *writer) busyNow() bool {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.busy
}

func (o *opener) writerOf(channel string) *writer {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writers[channel].writer
}

var kafkaTopicAuthorizationFailed = kafkago.TopicAuthorizationFailed

func (wr *writer) stalledNow() bool {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.stalled
}

// queuedNow is the count and bytes of the appends waiting in the queue.
func (wr *writer) queuedNow() (int, int) {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return wr.q.n, wr.q.bytes
}
