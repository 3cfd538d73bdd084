package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"maps"
	"slices"
	"testing"

	"github.com/segmentio/kafka-go/compress"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// rec is a record for a test batch; a nil key is a null key.
type rec struct {
	key       []byte
	value     string
	nullValue bool
	headers   [][2]string
}

func (r rec) body() []byte {
	var b []byte
	if r.key == nil {
		b = binary.AppendVarint(b, -1)
	} else {
		b = binary.AppendVarint(b, int64(len(r.key)))
		b = append(b, r.key...)
	}
	if r.nullValue {
		b = binary.AppendVarint(b, -1)
	} else {
		b = binary.AppendVarint(b, int64(len(r.value)))
		b = append(b, r.value...)
	}
	b = binary.AppendVarint(b, int64(len(r.headers)))
	for _, h := range r.headers {
		b = binary.AppendVarint(b, int64(len(h[0])))
		b = append(b, h[0]...)
		b = binary.AppendVarint(b, int64(len(h[1])))
		b = append(b, h[1]...)
	}
	return b
}

// testBatch is a batch at base with attributes attrs written by pid,
// its records compressed with codec if non-zero.
func testBatch(t testing.TB, base int64, attrs uint16, pid int64, codec compress.Compression, recs ...rec) []byte {
	t.Helper()
	bodies := make([][]byte, len(recs))
	for i, r := range recs {
		bodies[i] = r.body()
	}
	b := encodeBatch(nil, producerState{id: pid, epoch: 1}, 1, bodies)
	binary.BigEndian.PutUint64(b, uint64(base))
	if codec != 0 {
		var z bytes.Buffer
		w := codec.Codec().NewWriter(&z)
		if _, err := w.Write(b[batchHeaderSize:]); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		b = append(b[:batchHeaderSize], z.Bytes()...)
		binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
		attrs |= uint16(codec)
	}
	binary.BigEndian.PutUint16(b[attrsOffset:], attrs)
	binary.BigEndian.PutUint32(b[crcOffset:], crc32.Checksum(b[attrsOffset:], crc32c))
	return b
}

// marker is a control batch: a commit or abort marker of pid.
func marker(t testing.TB, base, pid int64, abort bool) []byte {
	key := []byte{0, 0, 0, 1}
	if abort {
		key[3] = controlAbort
	}
	return testBatch(t, base, attrTransactional|attrControl, pid, 0, rec{key: key, value: "\x00\x00\x00\x00\x00\x00"})
}

func decodeAll(t testing.TB, recs []byte, from int64, aborted ...abortedTxn) ([]message.ImmutableMessage, int64) {
	t.Helper()
	d := newDecoder("ch", "topic")
	msgs, next, err := d.decode(nil, recs, from, aborted)
	if err != nil {
		t.Fatal(err)
	}
	return msgs, next
}

// TestDecodeReadCommitted: control batches never, aborted transactions'
// batches never, committed and plain ones in order; an abort marker ends
// the producer's aborted transaction, so its next one counts again.
func TestDecodeReadCommitted(t *testing.T) {
	const pidA, pidB = 100, 200
	recs := slices.Concat(
		testBatch(t, 0, 0, -1, 0, rec{value: "plain"}),
		testBatch(t, 1, attrTransactional, pidA, 0, rec{value: "a-aborted"}, rec{value: "a-aborted-2"}),
		testBatch(t, 3, attrTransactional, pidB, 0, rec{value: "b-committed"}),
		marker(t, 4, pidA, true),
		marker(t, 5, pidB, false),
		testBatch(t, 6, attrTransactional, pidA, 0, rec{value: "a-next"}),
		marker(t, 7, pidA, false),
		testBatch(t, 8, 0, -1, 0, rec{value: "after"}),
	)
	msgs, next := decodeAll(t, recs, 0, abortedTxn{pid: pidA, firstOffset: 1})
	if got, want := payloads(msgs), []string{"plain", "b-committed", "a-next", "after"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	if got, want := offsets(msgs), []int64{0, 3, 6, 8}; !slices.Equal(got, want) {
		t.Fatalf("offsets %v, want %v", got, want)
	}
	if next != 9 {
		t.Fatalf("next offset %d, want 9", next)
	}
}

// TestDecodeStartsMidBatchAndLeavesACutBatch: a fetch may begin inside a
// batch and end inside one; records before the start are not delivered
// and the cut batch is fetched again.
func TestDecodeStartsMidBatchAndLeavesACutBatch(t *testing.T) {
	first := testBatch(t, 10, 0, -1, 0, rec{value: "10"}, rec{value: "11"}, rec{value: "12"})
	second := testBatch(t, 13, 0, -1, 0, rec{value: "13"})
	msgs, next := decodeAll(t, slices.Concat(first, second[:len(second)-1]), 11)
	if got := payloads(msgs); !slices.Equal(got, []string{"11", "12"}) || next != 13 {
		t.Fatalf("delivered %q, next %d; want 11 12, next 13", got, next)
	}
}

func TestDecodeCompressedBatches(t *testing.T) {
	for _, codec := range []compress.Compression{compress.Gzip, compress.Snappy, compress.Lz4, compress.Zstd} {
		b := testBatch(t, 0, 0, -1, codec, rec{value: "one", headers: [][2]string{{"h", "v"}}}, rec{key: []byte("k"), value: "two"})
		msgs, next := decodeAll(t, b, 0)
		if got := payloads(msgs); !slices.Equal(got, []string{"one", "two"}) || next != 2 ||
			msgs[0].Properties()["h"] != "v" || msgs[1].Properties()[PropertyKey] != "k" {
			t.Fatalf("%v: delivered %q %v %v, next %d", codec, got, msgs[0].Properties(), msgs[1].Properties(), next)
		}
	}
}

// TestDecodeProperties: the channel's own records as written (a fence is
// skipped), a foreign record's reserved headers renamed, keys and
// repeated headers mapped by the documented rule.
func TestDecodeProperties(t *testing.T) {
	own := producerID("topic")
	recs := slices.Concat(
		testBatch(t, 0, 0, own, 0, rec{headers: [][2]string{{fenceHeader, "1"}, {nonceHeader, "n"}}}, rec{headers: [][2]string{{fenceHeader, "1"}}}),
		testBatch(t, 2, 0, own, 0, rec{value: "own", key: []byte("k"), headers: [][2]string{{"_mqwal.term", "1"}, {"u", "x"}}}),
		testBatch(t, 3, 0, 5, 0, rec{value: "foreign", headers: [][2]string{{"_mqwal.term", "99"}, {fenceHeader, "9"}, {"u", "y"}}}),
		testBatch(t, 4, attrTransactional, own, 0, rec{value: "own id, transactional", headers: [][2]string{{fenceHeader, "9"}}}),
		testBatch(t, 5, 0, -1, 0, rec{value: "repeated", key: []byte("key"), headers: [][2]string{{"a", "1"}, {PropertyKey, "h"}, {"a", "2"}, {"_mqwal.x", "3"}, {"_mqwal.x", "4"}}}),
		testBatch(t, 6, 0, -1, 0, rec{nullValue: true}),
	)
	msgs, _ := decodeAll(t, recs, 0)
	want := []message.Properties{
		{PropertyKey: "k", "_mqwal.term": "1", "u": "x"},
		{ForeignPropertyPrefix + "_mqwal.term": "99", ForeignPropertyPrefix + fenceHeader: "9", "u": "y"},
		{ForeignPropertyPrefix + fenceHeader: "9"},
		{"a": "2", RepeatedPropertyPrefix + "1.a": "1", PropertyKey: "key", RepeatedPropertyPrefix + "1." + PropertyKey: "h",
			ForeignPropertyPrefix + "_mqwal.x": "4", RepeatedPropertyPrefix + "1." + ForeignPropertyPrefix + "_mqwal.x": "3"},
		nil,
	}
	if len(msgs) != len(want) {
		t.Fatalf("delivered %q", payloads(msgs))
	}
	if got := offsets(msgs); !slices.Equal(got, []int64{2, 3, 4, 5, 6}) {
		t.Fatalf("offsets %v", got)
	}
	for i, m := range msgs {
		if !maps.Equal(m.Properties(), want[i]) {
			t.Errorf("%q: properties %v, want %v", m.Payload(), m.Properties(), want[i])
		}
	}
	if m := msgs[len(msgs)-1]; m.Payload() == nil || len(m.Payload()) != 0 {
		t.Errorf("a record without value: payload %#v, want empty non-nil", m.Payload())
	}
}

// TestDecodeRefusesWhatItCannotRead: corruption and old message formats
// fail the scan with ErrInvalidArgument naming the offset, never a skip.
func TestDecodeRefusesWhatItCannotRead(t *testing.T) {
	good := testBatch(t, 7, 0, -1, 0, rec{value: "x"})
	badCRC := slices.Clone(good)
	badCRC[len(badCRC)-1] ^= 1
	oldFormat := slices.Clone(good)
	oldFormat[16] = 1
	badRecord := testBatch(t, 7, 0, -1, 0, rec{value: "x"})
	badRecord = badRecord[:len(badRecord)-2]
	binary.BigEndian.PutUint32(badRecord[8:], uint32(len(badRecord)-12))
	binary.BigEndian.PutUint32(badRecord[crcOffset:], crc32.Checksum(badRecord[attrsOffset:], crc32c))
	for name, b := range map[string][]byte{"crc": badCRC, "magic": oldFormat, "record": badRecord} {
		_, _, err := newDecoder("ch", "topic").decode(nil, b, 7, nil)
		if !errors.Is(err, walimpls.ErrInvalidArgument) || walimpls.IsRetryable(err) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

// TestDecodeRefusesGaps: offsets of a topic that is not compacted are
// dense, so an answer whose batch starts past the offset expected (at the
// start or between batches) is errOffsetGap, with the messages before the
// gap and the offset to fetch again; with gaps allowed (AllowRetention: the
// topic may be compacted) the decoder reads on.
func TestDecodeRefusesGaps(t *testing.T) {
	recs := slices.Concat(
		testBatch(t, 10, 0, -1, 0, rec{value: "10"}),
		testBatch(t, 12, 0, -1, 0, rec{value: "12"}),
	)
	for _, c := range []struct {
		from     int64
		want     []string
		wantNext int64
	}{{10, []string{"10"}, 11}, {8, nil, 8}} {
		msgs, next, err := newDecoder("ch", "topic").decode(nil, recs, c.from, nil)
		if !errors.Is(err, errOffsetGap) || !slices.Equal(payloads(msgs), c.want) || next != c.wantNext {
			t.Errorf("from %d: %q, next %d, %v; want %q, next %d, errOffsetGap", c.from, payloads(msgs), next, err, c.want, c.wantNext)
		}
	}
	d := newDecoder("ch", "topic")
	d.gaps = true
	msgs, next, err := d.decode(nil, recs, 8, nil)
	if err != nil || !slices.Equal(payloads(msgs), []string{"10", "12"}) || next != 13 {
		t.Errorf("gaps allowed: %q, next %d, %v; want 10 12, next 13", payloads(msgs), next, err)
	}
}

// FuzzDecode: no input makes the decoder panic, move backwards or deliver
// an offset outside what it consumed.
func FuzzDecode(f *testing.F) {
	f.Add(testBatch(f, 0, 0, -1, 0, rec{value: "v", headers: [][2]string{{"a", "1"}, {"a", "2"}}}), int64(0))
	f.Add(slices.Concat(marker(f, 3, 1, true), testBatch(f, 4, attrTransactional, 1, 0, rec{value: "t"})), int64(2))
	f.Add(testBatch(f, 0, 0, -1, compress.Gzip, rec{key: []byte{}, value: "z"}), int64(0))
	f.Fuzz(func(t *testing.T, recs []byte, from int64) {
		d := newDecoder("ch", "topic")
		msgs, next, _ := d.decode(nil, recs, from, []abortedTxn{{pid: 1, firstOffset: 0}})
		if next < from {
			t.Fatalf("next %d below the start %d", next, from)
		}
		for _, m := range msgs {
			if id := offsets([]message.ImmutableMessage{m})[0]; id < from || id >= next {
				t.Fatalf("delivered offset %d outside [%d, %d)", id, from, next)
			}
		}
	})
}
