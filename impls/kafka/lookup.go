package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
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
		var f fetched
		var release func(error)
		err := c.idempotent(ctx, func() error {
			fc, rel, err := c.lookupConn(ctx, topic)
			if err != nil {
				return err
			}
			f, err = fc.fetch(topic, at, lim, time.Now().Add(lookupMaxWait+c.cfg.RequestTimeout))
			if err != nil {
				rel(err)
				return err
			}
			release = rel
			return nil
		})
		if err != nil {
			return fmt.Errorf("kafka: fetch %s at %d: %w", topic, at, err)
		}
		next := at
		recs := f.records
		for len(recs) >= batchHeaderSize {
			size := int(int32(binary.BigEndian.Uint32(recs[8:])))
			if size < batchHeaderSize-12 || len(recs) < 12+size {
				break
			}
			b := readBatch(recs[:12+size], own)
			recs = recs[12+size:]
			if b.last < at || b.base >= to {
				continue
			}
			fn(b)
			next = max(next, b.last+1)
		}
		release(nil) // f.records is no longer used
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

// lookupConn lends a fetch connection to the leader of topic for log
// lookups; release gives it back (nil) or drops it (an error). Idle ones
// are kept per broker, so an Open does not pay a TLS and SASL handshake.
func (c *client) lookupConn(ctx context.Context, topic string) (*fetchConn, func(error), error) {
	addr, err := c.leaderAddr(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	c.lookupMu.Lock()
	var fc *fetchConn
	if idle := c.lookupIdle[addr]; len(idle) > 0 {
		fc = idle[len(idle)-1]
		c.lookupIdle[addr] = idle[:len(idle)-1]
	}
	c.lookupMu.Unlock()
	if fc == nil {
		if fc, err = c.dialAddr(ctx, topic, addr); err != nil {
			return nil, nil, err
		}
	}
	return fc, func(err error) { c.releaseLookup(addr, fc, err) }, nil
}

// maxIdleLookupConns bounds the idle lookup connections kept per broker.
const maxIdleLookupConns = 4

func (c *client) releaseLookup(addr string, fc *fetchConn, err error) {
	c.lookupMu.Lock()
	if err != nil || c.lookupClosed || len(c.lookupIdle[addr]) >= maxIdleLookupConns {
		var drop []*fetchConn
		if err != nil {
			// The broker may have restarted: its other idle
			// connections are likely dead too.
			drop = c.lookupIdle[addr]
			delete(c.lookupIdle, addr)
		}
		c.lookupMu.Unlock()
		fc.Close()
		for _, d := range drop {
			d.Close()
		}
		return
	}
	if cap(fc.resp) > 64<<10 {
		fc.resp = nil // an idle connection holds no large buffer
	}
	c.lookupIdle[addr] = append(c.lookupIdle[addr], fc)
	c.lookupMu.Unlock()
}

// closeLookups closes the idle lookup connections; later releases close
// theirs.
func (c *client) closeLookups() {
	c.lookupMu.Lock()
	idle := c.lookupIdle
	c.lookupIdle, c.lookupClosed = nil, true
	c.lookupMu.Unlock()
	for _, conns := range idle {
		for _, fc := range conns {
			fc.Close()
		}
	}
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
