package kafka

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go/compress"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// What a scan delivers (see doc.go, "Sharing topics"):
//
//   - What a read_committed consumer sees: control records never, records
//     of aborted transactions never, records of open transactions once
//     they commit (the broker returns nothing past the last stable offset).
//     The offsets they hold are gaps in the IDs, as fence records are.
//   - The channel's own records (batches of its derived producer id, never
//     transactional) as they were appended; fence records are skipped.
//   - Other clients' records with their headers as properties, except that
//     a header whose name starts with "_mqwal." is delivered under
//     ForeignPropertyPrefix + its name: only the channel's own producer can
//     write a fence, a term or any other reserved property.
//   - A record key as the property PropertyKey (Append of a message with
//     that property writes it as the key, so a key round-trips).
//   - A header name that occurs n > 1 times in a record (or a foreign
//     record's header named PropertyKey beside a key, which counts as its
//     last occurrence): the last value under the name, as Kafka's
//     Headers.lastHeader, and occurrence k < n under
//     RepeatedPropertyPrefix + "<k>." + name.
const (
	// PropertyKey is the property that carries a record's key: set it on
	// Append to write the message with that key, read it back from any
	// keyed record. It is an ordinary property name (not reserved), so the
	// adaptor passes it through.
	PropertyKey = "kafka.key"
	// ForeignPropertyPrefix is put before a reserved header name
	// ("_mqwal.") of a record the channel's own producer did not write.
	ForeignPropertyPrefix = message.ReservedPropertyPrefix + "kafka.foreign."
	// RepeatedPropertyPrefix names the earlier occurrences of a header name
	// that a record repeats.
	RepeatedPropertyPrefix = message.ReservedPropertyPrefix + "kafka.header."
	// driverPropertyPrefix is reserved for the driver's own headers; Append
	// refuses properties under it.
	driverPropertyPrefix = message.ReservedPropertyPrefix + "kafka."
)

// Record batch attributes (Kafka record batch v2).
const (
	attrCompression   = 0x07
	attrTransactional = 0x10
	attrControl       = 0x20
)

// controlAbort is the type of an abort marker (a control record's key is
// version int16, type int16; 0 abort, 1 commit).
const controlAbort = 0

// decoder turns fetched record batches into messages. One per scan; its
// buffers are reused from fetch to fetch.
type decoder struct {
	channel string
	topic   string
	ownPID  int64
	// gaps lets offsets skip (Config.AllowRetention: the topic may be
	// compacted; or the broker answered the same gap twice). Otherwise a
	// batch that starts past the offset expected is errOffsetGap.
	gaps bool

	inflated bytes.Buffer
	headers  []header
	abortedP map[int64]struct{}
}

type header struct{ name, value []byte }

func newDecoder(channel, topic string) *decoder {
	return &decoder{channel: channel, topic: topic, ownPID: producerID(topic), abortedP: map[int64]struct{}{}}
}

// errOffsetGap is a fetch answer whose batches skip offsets: Kafka's
// offsets are dense unless compaction removed records, or a broker leaves
// out aborted transactions' batches (Redpanda has). The scanner drops what
// follows the gap and fetches again from the offset it expected; only a
// second answer with the same gap is read past.
var errOffsetGap = errors.New("offsets missing from a fetch answer")

// corrupt reports a batch the driver cannot read. Not retryable: reading
// it again gives the same bytes.
func (d *decoder) corrupt(offset int64, format string, args ...any) error {
	return fmt.Errorf("%w: kafka channel %q: record batch at offset %d of %s: %s", walimpls.ErrInvalidArgument, d.channel, offset, d.topic, fmt.Sprintf(format, args...))
}

// decode appends to out the messages of the batches in recs at or after
// from and returns the offset to fetch next. aborted is the fetch's
// aborted-transactions list. A batch cut off at the end of recs (a fetch
// ends at its byte limit) is left for the next fetch.
func (d *decoder) decode(out []message.ImmutableMessage, recs []byte, from int64, aborted []abortedTxn) ([]message.ImmutableMessage, int64, error) {
	next := from
	clear(d.abortedP)
	slices.SortFunc(aborted, func(a, b abortedTxn) int { return cmp.Compare(a.firstOffset, b.firstOffset) })
	for len(recs) >= 12 {
		base := int64(binary.BigEndian.Uint64(recs))
		size := int(int32(binary.BigEndian.Uint32(recs[8:])))
		if size < batchHeaderSize-12 {
			return out, next, d.corrupt(base, "length %d", size)
		}
		if len(recs) < 12+size {
			break
		}
		batch := recs[:12+size]
		recs = recs[12+size:]
		if magic := batch[16]; magic != 2 {
			return out, next, d.corrupt(base, "message format v%d; the driver reads format v2 (Kafka 0.11 and later)", magic)
		}
		if crc := binary.BigEndian.Uint32(batch[crcOffset:]); crc != crc32.Checksum(batch[attrsOffset:], crc32c) {
			return out, next, d.corrupt(base, "CRC mismatch")
		}
		if base > next && !d.gaps {
			return out, next, fmt.Errorf("%w: kafka channel %q: the answer for offset %d of %s holds offsets from %d", errOffsetGap, d.channel, next, d.topic, base)
		}
		attrs := binary.BigEndian.Uint16(batch[attrsOffset:])
		last := base + int64(int32(binary.BigEndian.Uint32(batch[23:])))
		pid := int64(binary.BigEndian.Uint64(batch[43:]))
		count := int(int32(binary.BigEndian.Uint32(batch[57:])))
		if last < next {
			continue // wholly before the start: a fetch can begin mid-batch
		}
		next = last + 1
		if attrs&attrTransactional != 0 {
			// The aborted transactions that started at or before this
			// batch; read_committed logic as in Kafka's own consumer.
			for len(aborted) > 0 && aborted[0].firstOffset <= last {
				d.abortedP[aborted[0].pid] = struct{}{}
				aborted = aborted[1:]
			}
			if attrs&attrControl != 0 {
				if isAbortMarker(batch[batchHeaderSize:], count) {
					delete(d.abortedP, pid)
				}
				continue
			}
			if _, ok := d.abortedP[pid]; ok {
				continue
			}
		} else if attrs&attrControl != 0 {
			continue
		}
		body := batch[batchHeaderSize:]
		if c := compress.Compression(attrs & attrCompression); c != 0 {
			codec := c.Codec()
			if codec == nil {
				return out, next, d.corrupt(base, "compression codec %d", c)
			}
			d.inflated.Reset()
			zr := codec.NewReader(bytes.NewReader(body))
			_, err := d.inflated.ReadFrom(zr)
			zr.Close()
			if err != nil && !errors.Is(err, io.EOF) {
				return out, next, d.corrupt(base, "%s: %v", c, err)
			}
			body = d.inflated.Bytes()
		}
		own := pid == d.ownPID && attrs&attrTransactional == 0
		var err error
		if out, err = d.records(out, body, count, base, from, own); err != nil {
			return out, next, err
		}
	}
	return out, next, nil
}

// records decodes count records of a batch starting at base.
func (d *decoder) records(out []message.ImmutableMessage, body []byte, count int, base, from int64, own bool) ([]message.ImmutableMessage, error) {
	r := wire{b: body}
	for range count {
		rec := wire{}
		n := r.varint()
		rec.b = r.take(int(n))
		rec.int8() // attributes
		rec.varint()
		offset := base + rec.varint()
		key, hasKey := rec.varbytes()
		value, _ := rec.varbytes()
		nh := rec.varint()
		if nh < 0 || nh > int64(len(rec.b)) {
			rec.fail()
		}
		d.headers = d.headers[:0]
		for range nh {
			name, _ := rec.varbytes()
			v, _ := rec.varbytes()
			d.headers = append(d.headers, header{name, v})
		}
		if r.err != nil || rec.err != nil {
			return out, d.corrupt(base, "record %d does not decode", offset)
		}
		if offset < from {
			continue
		}
		props, fence := d.properties(key, hasKey, own)
		if fence {
			continue
		}
		payload := make([]byte, len(value))
		copy(payload, value)
		out = append(out, message.NewImmutableMessage(helper.NewInt64ID(Name, offset), d.channel, payload, props))
	}
	return out, nil
}

// properties maps the headers in d.headers and a key to properties (see
// the rules above) and reports a fence record of the channel's own
// producer, which is not a message.
func (d *decoder) properties(key []byte, hasKey, own bool) (message.Properties, bool) {
	n := len(d.headers)
	if hasKey {
		n++
	}
	if n == 0 {
		return nil, false
	}
	props := make(message.Properties, n)
	repeated := false
	for _, h := range d.headers {
		name := d.name(h.name, own)
		if own && name == fenceHeader {
			return nil, true
		}
		if _, ok := props[name]; ok {
			repeated = true
			break
		}
		props[name] = string(h.value)
	}
	if !repeated && hasKey {
		if _, ok := props[PropertyKey]; ok {
			repeated = true
		} else {
			props[PropertyKey] = string(key)
		}
	}
	if repeated {
		props = d.repeatedProperties(key, hasKey, own)
	}
	return props, false
}

// name is the property name of a header: a reserved name of a foreign
// record goes under ForeignPropertyPrefix.
func (d *decoder) name(b []byte, own bool) string {
	if !own && bytes.HasPrefix(b, []byte(message.ReservedPropertyPrefix)) {
		return ForeignPropertyPrefix + string(b)
	}
	return string(b)
}

// repeatedProperties maps a record that repeats a header name: the last
// occurrence under the name, occurrence k (1-based) of the earlier ones
// under RepeatedPropertyPrefix + "<k>." + name. A key counts as the last
// occurrence of PropertyKey.
func (d *decoder) repeatedProperties(key []byte, hasKey, own bool) message.Properties {
	type kv struct{ name, value string }
	all := make([]kv, 0, len(d.headers)+1)
	for _, h := range d.headers {
		all = append(all, kv{d.name(h.name, own), string(h.value)})
	}
	if hasKey {
		all = append(all, kv{PropertyKey, string(key)})
	}
	total := map[string]int{}
	for _, e := range all {
		total[e.name]++
	}
	seen := map[string]int{}
	props := make(message.Properties, len(all))
	for _, e := range all {
		seen[e.name]++
		if k := seen[e.name]; k < total[e.name] {
			props[RepeatedPropertyPrefix+strconv.Itoa(k)+"."+e.name] = e.value
		} else {
			props[e.name] = e.value
		}
	}
	return props
}

// isAbortMarker reports whether a control batch's first record is an
// abort marker.
func isAbortMarker(body []byte, count int) bool {
	if count < 1 {
		return false
	}
	r := wire{b: body}
	rec := wire{}
	rec.b = r.take(int(r.varint()))
	rec.int8()
	rec.varint()
	rec.varint()
	key, ok := rec.varbytes()
	if rec.err != nil || !ok || len(key) < 4 {
		return false
	}
	return int16(binary.BigEndian.Uint16(key[2:])) == controlAbort
}

// checkAppendProperties refuses properties under the driver's reserved
// prefix: a message carrying the fence header would be acknowledged and
// then skipped by every scanner.
func checkAppendProperties(channel string, props message.Properties) error {
	for k := range props {
		if strings.HasPrefix(k, driverPropertyPrefix) {
			return fmt.Errorf("%w: kafka channel %q: property key %q uses the driver's reserved prefix %q", walimpls.ErrInvalidArgument, channel, k, driverPropertyPrefix)
		}
	}
	return nil
}
