package kafka

import (
	"bytes"
	"maps"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/message"
)

// FuzzBatchRoundTrip: whatever payload and headers an appender brings, the
// batch the driver builds is one a Kafka broker parses back to the same
// record (kfake validates with the same kmsg decoder), and the driver's
// own scanner decodes it to the same message.
func FuzzBatchRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), "k", "v", int16(1), int32(0))
	f.Add([]byte{}, "", "", int16(0), int32(1<<31-1))
	f.Add(bytes.Repeat([]byte{0xff}, 300), "_mqwal.kafka.fence", "7", int16(32767), int32(5))
	f.Add([]byte("keyed"), PropertyKey, "order-1", int16(2), int32(9))
	f.Fuzz(func(t *testing.T, payload []byte, key, value string, epoch int16, seq int32) {
		if epoch < 0 || seq < 0 {
			return
		}
		props := message.Properties{key: value}
		body := encodeRecordBody(nil, payload, props)
		framed := frameBatch(producerState{id: producerID("topic"), epoch: epoch, sequence: seq}, 1, [][]byte{body, body})
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
		msgs, next, err := newDecoder("ch", "topic").decode(nil, framed[4:], 0, nil)
		switch {
		case err != nil || next != 2:
			t.Fatalf("decode: next %d: %v", next, err)
		case key == fenceHeader:
			if len(msgs) != 0 {
				t.Fatalf("fence records delivered: %v", msgs)
			}
		case len(msgs) != 2 || !bytes.Equal(msgs[1].Payload(), payload) || !maps.Equal(msgs[1].Properties(), props):
			t.Fatalf("decoded %v, want payload %q properties %v", msgs, payload, props)
		}
		for i, r := range recs {
			if key == PropertyKey {
				// The key property is the record key, not a header.
				if string(r.Key) != value || r.Key == nil || len(r.Headers) != 0 || !bytes.Equal(r.Value, payload) {
					t.Fatalf("record %d: %+v", i, r)
				}
				continue
			}
			if !bytes.Equal(r.Value, payload) || len(r.Headers) != 1 || r.Headers[0].Key != key || string(r.Headers[0].Value) != value || r.OffsetDelta != int32(i) {
				t.Fatalf("record %d: %+v", i, r)
			}
		}
	})
}
