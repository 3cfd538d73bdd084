package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// batchInfo is what the driver reads about one record batch of the log:
// enough to tell whose it is, where the producer's sequence stands after
// it, and whether it is a claim's fence.
type batchInfo struct {
	base, last int64 // its first and last offset
	pid        int64
	epoch      int16
	seq        int32  // its first sequence
	fence      bool   // its first record carries fenceHeader
	nonce      string // the claim nonce of a fence batch
}

// records is how many offsets the batch spans (its record count: the
// driver's topics are never compacted).
func (b batchInfo) records() int { return int(b.last - b.base + 1) }

// next is the producer sequence that follows the batch.
func (b batchInfo) next() int32 { return nextSequence(b.seq, b.records()) }

// lookupFetchBytes is the size of one lookup fetch. The broker returns at
// least one whole batch even if it is larger.
const lookupFetchBytes = 4 << 20

// lookupMaxWait bounds a lookup fetch's wait; it asks below the high
// watermark, so the broker answers at once.
const lookupMaxWait = 100 * time.Millisecond

// scanBatches calls fn with each batch that holds an offset in [from, to),
// oldest first, fetching forward from from (read_uncommitted: the
// producer's batches may follow another client's open transaction). Only
// the batch headers are decoded, and the first record's headers of the
// channel producer's batches (its fence and nonce).
func (c *client) scanBatches(ctx context.Context, topic string, from, to int64, fn func(batchInfo)) error {
	own := producerID(topic)
	lim := fetchLimits{maxWait: lookupMaxWait, maxBytes: lookupFetchBytes, isolation: readUncommitted}
	for at := from; at < to; {
		var recs []byte
		var code int16
		err := c.idempotent(ctx, topic, func() error {
			putRecBuf(recs)
			recs, code = nil, int16(kafkago.UnknownTopicOrPartition)
			err := c.onLeader(ctx, topic, func(bc *brokerConn) error {
				parts := []fetchPart{{topic: topic, offset: at, maxBytes: lookupFetchBytes}}
				return bc.fetch(parts, lim, time.Now().Add(lookupMaxWait+c.cfg.RequestTimeout), func(t []byte, a partAnswer) {
					if string(t) != topic {
						putRecBuf(a.records)
						return
					}
					putRecBuf(recs)
					recs, code = a.records, a.code
				})
			})
			if err == nil && code != 0 {
				err = kafkago.Error(code)
			}
			return err
		})
		if err != nil {
			putRecBuf(recs)
			return fmt.Errorf("kafka: fetch %s at %d: %w", topic, at, err)
		}
		next := at
		rest := recs
		for len(rest) >= batchHeaderSize {
			size := int(int32(binary.BigEndian.Uint32(rest[8:])))
			if size < batchHeaderSize-12 || len(rest) < 12+size {
				break
			}
			b := readBatch(rest[:12+size], own)
			rest = rest[12+size:]
			if b.last < at || b.base >= to {
				continue
			}
			fn(b)
			next = max(next, b.last+1)
		}
		putRecBuf(recs)
		if next == at {
			// Nothing at at: records below the high watermark were
			// deleted under us, or the broker answered empty.
			return fmt.Errorf("kafka: fetch %s at %d: no batch below the end at %d", topic, at, to)
		}
		at = next
	}
	return nil
}

// readBatch decodes a batch's header and, for a batch of producer own,
// whether its first record is a fence and its claim nonce.
func readBatch(batch []byte, own int64) batchInfo {
	b := batchInfo{
		base:  int64(binary.BigEndian.Uint64(batch)),
		pid:   int64(binary.BigEndian.Uint64(batch[43:])),
		epoch: int16(binary.BigEndian.Uint16(batch[51:])),
		seq:   int32(binary.BigEndian.Uint32(batch[53:])),
	}
	b.last = b.base + int64(int32(binary.BigEndian.Uint32(batch[23:])))
	if b.pid != own || binary.BigEndian.Uint16(batch[attrsOffset:])&(attrCompression|attrControl) != 0 {
		return b
	}
	r := wire{b: batch[batchHeaderSize:]}
	rec := wire{}
	rec.b = r.take(int(r.varint()))
	rec.int8()
	rec.varint()
	rec.varint()
	rec.varbytes()
	rec.varbytes()
	n := rec.varint()
	for i := int64(0); i < n && rec.err == nil; i++ {
		name, _ := rec.varbytes()
		value, _ := rec.varbytes()
		switch string(name) {
		case fenceHeader:
			b.fence = true
		case nonceHeader:
			b.nonce = string(value)
		}
	}
	return b
}

// newestBatchOf finds the newest batch of producer pid in [first, end). It
// reads the log backwards in spans that grow fourfold, each read forward:
// the channel's own producer normally wrote the last batch, so one fetch
// finds it, and foreign records behind which it hides cost O(log n) fetches
// plus their bytes, not one fetch per batch.
func (c *client) newestBatchOf(ctx context.Context, topic string, pid int64, first, end int64) (batchInfo, bool, error) {
	for hi, span := end, int64(1); hi > first; span *= 4 {
		lo := max(first, hi-span)
		var newest batchInfo
		found := false
		err := c.scanBatches(ctx, topic, lo, hi, func(b batchInfo) {
			if b.pid == pid {
				newest, found = b, true
			}
		})
		if err != nil || found {
			return newest, found, err
		}
		hi = lo
	}
	return batchInfo{}, false, nil
}

// batchAt reads the batch that holds offset.
func (c *client) batchAt(ctx context.Context, topic string, offset int64) (batchInfo, error) {
	var b batchInfo
	found := false
	err := c.scanBatches(ctx, topic, offset, offset+1, func(got batchInfo) { b, found = got, true })
	if err == nil && !found {
		err = fmt.Errorf("kafka: no batch of %s holds offset %d", topic, offset)
	}
	return b, err
}
