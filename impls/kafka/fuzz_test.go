package kafka

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/message"
)

// FuzzBatchRoundTrip: whatever payload and headers an appender brings, the
// batch the driver builds is one a Kafka broker parses back to the same
// record (kfake validates with the same kmsg decoder).
func FuzzBatchRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), "k", "v", int16(1), int32(0))
	f.Add([]byte{}, "", "", int16(0), int32(1<<31-1))
	f.Add(bytes.Repeat([]byte{0xff}, 300), "_mqwal.kafka.fence", "7", int16(32767), int32(5))
	f.Fuzz(func(t *testing.T, payload []byte, key, value string, epoch int16, seq int32) {
		if epoch < 0 || seq < 0 {
			return
		}
		props := message.Properties{key: value}
		body := encodeRecordBody(nil, payload, props)
		framed := frameBatch(producerState{id: 1 << 62, epoch: epoch, sequence: seq}, 1, [][]byte{body, body})
		var b kmsg.RecordBatch
		if err := b.ReadFrom(framed[4:]); err != nil {
			t.Fatalf("kmsg cannot read the batch: %v", err)
		}
		if b.ProducerEpoch != epoch || b.FirstSequence != seq || b.NumRecords != 2 || int(b.Length) != len(framed)-16 {
			t.Fatalf("header %+v", b)
		}
		recs, err := kmsgRecords(b.Records, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			if !bytes.Equal(r.Value, payload) || len(r.Headers) != 1 || r.Headers[0].Key != key || string(r.Headers[0].Value) != value || r.OffsetDelta != int32(i) {
				t.Fatalf("record %d: %+v", i, r)
			}
		}
	})
}
