package kafka

import (
	"encoding/binary"
	"errors"
	kafkago "github.com/segmentio/kafka-go"
)

var errShort = errors.New("short record")

func varint(b []byte) (int64, int) { return binary.Varint(b) }

var kafkaInvalidEpoch = kafkagoInvalidProducerEpoch

const kafkagoInvalidProducerEpoch = kafkago.InvalidProducerEpoch
