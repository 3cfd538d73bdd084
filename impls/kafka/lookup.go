package kafka

import (
	"context"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
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
const lookupFetchBytes = 1 << 20

// scanBatches calls fn with each batch that holds an offset in [from, to),
// oldest first, fetching forward from from.
func (c *client) scanBatches(ctx context.Context, topic string, from, to int64, fn func(batchInfo)) error {
	for at := from; at < to; {
		var resp *kafkago.FetchResponse
		err := c.idempotent(ctx, func() (err error) {
			resp, err = c.kc.Fetch(ctx, &kafkago.FetchRequest{Topic: topic, Partition: 0, Offset: at, MinBytes: 1, MaxBytes: lookupFetchBytes, MaxWait: 100 * time.Millisecond})
			if err == nil && resp.Error != nil {
				err = resp.Error
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("kafka: fetch %s at %d: %w", topic, at, err)
		}
		next := at
		if rs, ok := resp.Records.(*protocol.RecordStream); ok {
			for _, rr := range rs.Records {
				pb, ok := rr.(*protocol.RecordBatch)
				if !ok {
					continue
				}
				b := readBatch(pb)
				if b.last < at || b.base >= to {
					continue
				}
				fn(b)
				next = max(next, b.last+1)
			}
		}
		if next == at {
			// Nothing at at: records below the high watermark were
			// deleted under us, or the broker answered empty.
			return fmt.Errorf("kafka: fetch %s at %d: no batch below the end at %d", topic, at, to)
		}
		at = next
	}
	return nil
}

// readBatch decodes a batch's header, its last offset and, if its first
// record is a fence, the claim nonce.
func readBatch(pb *protocol.RecordBatch) batchInfo {
	b := batchInfo{base: pb.BaseOffset, last: pb.BaseOffset, pid: pb.ProducerID, epoch: pb.ProducerEpoch, seq: pb.BaseSequence}
	for i := 0; ; i++ {
		r, err := pb.ReadRecord()
		if err != nil {
			break
		}
		b.last = r.Offset
		if i == 0 {
			for _, h := range r.Headers {
				switch h.Key {
				case fenceHeader:
					b.fence = true
				case nonceHeader:
					b.nonce = string(h.Value)
				}
			}
		}
		if r.Key != nil {
			r.Key.Close()
		}
		if r.Value != nil {
			r.Value.Close()
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
