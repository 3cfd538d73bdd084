package kafka

import (
	"encoding/binary"
	"hash/crc32"
	"slices"

	"github.com/mqwal/mqwal/message"
)

// Kafka record batch v2 layout (the bytes RawProduce sends). segmentio's
// own encoder writes producer id, epoch and sequence as -1, so the driver
// builds batches itself to be an idempotent producer whose epoch is the
// term.
const (
	batchHeaderSize = 61 // baseOffset .. recordCount
	crcOffset       = 17 // the CRC covers attributes..end
	attrsOffset     = 21
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// encodeRecordBody encodes the part of a record that does not depend on its
// place in the batch: key (the property PropertyKey, else null), value,
// the other properties as headers. Appenders run it concurrently, so the
// sender only stitches bodies together.
func encodeRecordBody(dst []byte, payload []byte, props message.Properties) []byte {
	key, keyed := props[PropertyKey]
	if keyed {
		dst = binary.AppendVarint(dst, int64(len(key)))
		dst = append(dst, key...)
	} else {
		dst = binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(payload)))
	dst = append(dst, payload...)
	keys := props.Keys()
	if keyed {
		keys = slices.DeleteFunc(keys, func(k string) bool { return k == PropertyKey })
	}
	dst = binary.AppendVarint(dst, int64(len(keys)))
	for _, k := range keys {
		v := props[k]
		dst = binary.AppendVarint(dst, int64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendVarint(dst, int64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// producerState is what makes a batch idempotent and fenced.
type producerState struct {
	id       int64
	epoch    int16
	sequence int32
}

// recordOverhead bounds the bytes a record adds around its body in a batch:
// length, attributes, timestamp delta and offset delta varints.
const recordOverhead = 5 + 1 + 1 + 5

// batchSize is the exact size of the batch encodeBatch builds from bodies.
func batchSize(bodies [][]byte) int {
	n := batchHeaderSize
	for i, b := range bodies {
		l := 1 + 1 + varintLen(int64(i)) + len(b)
		n += varintLen(int64(l)) + l
	}
	return n
}

func varintLen(v int64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutVarint(buf[:], v)
}

// encodeBatch builds one uncompressed v2 record batch holding bodies, with
// the producer's id, epoch and first sequence and a CRC-32C over the rest.
func encodeBatch(dst []byte, ps producerState, timestampMs int64, bodies [][]byte) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, 0)          // base offset, set by the broker
	dst = binary.BigEndian.AppendUint32(dst, 0)          // length, patched below
	dst = binary.BigEndian.AppendUint32(dst, 0xffffffff) // partition leader epoch: -1
	dst = append(dst, 2)                                 // magic
	dst = binary.BigEndian.AppendUint32(dst, 0)          // crc, patched below
	dst = binary.BigEndian.AppendUint16(dst, 0)          // attributes: no compression, create time
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(bodies)-1))
	dst = binary.BigEndian.AppendUint64(dst, uint64(timestampMs))
	dst = binary.BigEndian.AppendUint64(dst, uint64(timestampMs))
	dst = binary.BigEndian.AppendUint64(dst, uint64(ps.id))
	dst = binary.BigEndian.AppendUint16(dst, uint16(ps.epoch))
	dst = binary.BigEndian.AppendUint32(dst, uint32(ps.sequence))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(bodies)))
	for i, b := range bodies {
		l := 1 + 1 + varintLen(int64(i)) + len(b)
		dst = binary.AppendVarint(dst, int64(l))
		dst = append(dst, 0)                     // record attributes
		dst = binary.AppendVarint(dst, 0)        // timestamp delta
		dst = binary.AppendVarint(dst, int64(i)) // offset delta
		dst = append(dst, b...)
	}
	batch := dst[start:]
	binary.BigEndian.PutUint32(batch[8:12], uint32(len(batch)-12))
	binary.BigEndian.PutUint32(batch[crcOffset:attrsOffset], crc32.Checksum(batch[attrsOffset:], crc32c))
	return dst
}

// frameBatch encodes a batch (see encodeBatch) behind the int32 size
// prefix a raw record set carries on the wire.
func frameBatch(ps producerState, timestampMs int64, bodies [][]byte) []byte {
	size := batchSize(bodies)
	buf := make([]byte, 4, 4+size)
	buf = encodeBatch(buf, ps, timestampMs, bodies)
	binary.BigEndian.PutUint32(buf[:4], uint32(len(buf)-4))
	return buf
}

// nextSequence is Kafka's sequence arithmetic: sequences wrap to 0 after
// math.MaxInt32.
func nextSequence(seq int32, n int) int32 {
	const maxSeq = int64(1<<31 - 1)
	next := int64(seq) + int64(n)
	if next > maxSeq {
		next -= maxSeq + 1
	}
	return int32(next)
}
