package kafka

import (
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/message"
)

func TestEncodeBatchDecodesWithKmsg(t *testing.T) {
	bodies := [][]byte{
		encodeRecordBody(nil, []byte("hello"), message.Properties{"a": "1", "b": "2"}),
		encodeRecordBody(nil, nil, nil),
		encodeRecordBody(nil, make([]byte, 300), message.Properties{"k": ""}),
	}
	ps := producerState{id: producerID("topic"), epoch: 7, sequence: 42}
	raw := encodeBatch(nil, ps, 1234, bodies)
	if len(raw) != batchSize(bodies) {
		t.Fatalf("batchSize = %d, encoded %d bytes", batchSize(bodies), len(raw))
	}
	var b kmsg.RecordBatch
	if err := b.ReadFrom(raw); err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if want := int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))); b.CRC != want {
		t.Fatalf("CRC %x, want %x", b.CRC, want)
	}
	if b.ProducerID != ps.id || b.ProducerEpoch != 7 || b.FirstSequence != 42 || b.NumRecords != 3 || b.LastOffsetDelta != 2 || int(b.Length) != len(raw)-12 {
		t.Fatalf("header: %+v", b)
	}
	recs, err := kmsgRecords(b.Records, int(b.NumRecords))
	if err != nil {
		t.Fatal(err)
	}
	if string(recs[0].Value) != "hello" || len(recs[0].Headers) != 2 || recs[0].Headers[0].Key != "a" || string(recs[0].Headers[1].Value) != "2" {
		t.Fatalf("record 0: %+v", recs[0])
	}
	if len(recs[1].Value) != 0 || recs[1].Key != nil || recs[2].OffsetDelta != 2 || len(recs[2].Value) != 300 {
		t.Fatalf("records: %+v", recs)
	}
}

func kmsgRecords(b []byte, n int) ([]kmsg.Record, error) {
	var out []kmsg.Record
	for range n {
		var r kmsg.Record
		l, used := varint(b)
		if used <= 0 {
			return nil, errShort
		}
		if err := r.ReadFrom(b[:used+int(l)]); err != nil {
			return nil, err
		}
		b = b[used+int(l):]
		out = append(out, r)
	}
	return out, nil
}
