package kafka

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEncodeFetchDecodesWithKmsg: every Fetch version the driver may send
// is one franz-go's codec (which kfake serves with) reads back as a
// read_committed fetch of partition 0 at the offset.
func TestEncodeFetchDecodesWithKmsg(t *testing.T) {
	lim := fetchLimits{maxWait: 500 * time.Millisecond, maxBytes: 1 << 20, isolation: readCommitted}
	for v := int16(fetchMinVersion); v <= fetchMaxVersion; v++ {
		raw := encodeFetch(nil, v, 77, "mqwal", "topic-a", 12345, lim)
		if int(binary.BigEndian.Uint32(raw)) != len(raw)-4 {
			t.Fatalf("v%d: size prefix %d, request is %d bytes", v, binary.BigEndian.Uint32(raw), len(raw)-4)
		}
		r := wire{b: raw[4:]}
		key, ver, corr, client := r.int16(), r.int16(), r.int32(), r.string16()
		if key != 1 || ver != v || corr != 77 || string(client) != "mqwal" || r.err != nil {
			t.Fatalf("v%d: header key %d version %d corr %d client %q", v, key, ver, corr, client)
		}
		req := kmsg.FetchRequest{Version: v}
		if err := req.ReadFrom(r.b); err != nil {
			t.Fatalf("v%d: kmsg cannot read the request: %v", v, err)
		}
		if req.ReplicaID != -1 || req.MaxWaitMillis != 500 || req.MinBytes != 1 || req.MaxBytes != 1<<20 || req.IsolationLevel != 1 ||
			len(req.Topics) != 1 || req.Topics[0].Topic != "topic-a" || len(req.Topics[0].Partitions) != 1 {
			t.Fatalf("v%d: %+v", v, req)
		}
		p := req.Topics[0].Partitions[0]
		if p.Partition != 0 || p.FetchOffset != 12345 || p.PartitionMaxBytes != 1<<20 {
			t.Fatalf("v%d: partition %+v", v, p)
		}
		if v >= 7 && (req.SessionID != 0 || req.SessionEpoch != -1) {
			t.Fatalf("v%d: session %d epoch %d, want a sessionless full fetch", v, req.SessionID, req.SessionEpoch)
		}
	}
}

// TestDecodeFetchOfKmsgResponses: the driver reads what franz-go encodes
// for every version it may send: offsets, aborted transactions, records,
// and partition errors as kafkago errors.
func TestDecodeFetchOfKmsgResponses(t *testing.T) {
	for v := int16(fetchMinVersion); v <= fetchMaxVersion; v++ {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = v
		other := kmsg.NewFetchResponseTopic()
		other.Topic = "other"
		other.Partitions = []kmsg.FetchResponseTopicPartition{kmsg.NewFetchResponseTopicPartition()}
		topic := kmsg.NewFetchResponseTopic()
		topic.Topic = "t"
		p := kmsg.NewFetchResponseTopicPartition()
		p.HighWatermark, p.LastStableOffset, p.LogStartOffset = 40, 30, 5
		a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		a.ProducerID, a.FirstOffset = 9, 12
		p.AbortedTransactions = append(p.AbortedTransactions, a)
		p.RecordBatches = []byte("batches")
		topic.Partitions = append(topic.Partitions, p)
		resp.Topics = append(resp.Topics, other, topic)
		body := resp.AppendTo(binary.BigEndian.AppendUint32(nil, 5))
		f, err := decodeFetch(body, v, 5, "t")
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		wantStart := int64(5)
		if v < 5 {
			wantStart = -1
		}
		if f.hw != 40 || f.lso != 30 || f.logStart != wantStart || len(f.aborted) != 1 || f.aborted[0] != (abortedTxn{9, 12}) || string(f.records) != "batches" {
			t.Fatalf("v%d: %+v", v, f)
		}
		if _, err := decodeFetch(body, v, 6, "t"); err == nil {
			t.Fatalf("v%d: a response for another correlation id was accepted", v)
		}
		if _, err := decodeFetch(body[:len(body)-3], v, 5, "t"); err == nil {
			t.Fatalf("v%d: a truncated response was accepted", v)
		}
		resp.Topics[1].Partitions[0].ErrorCode = int16(kafkago.OffsetOutOfRange)
		body = resp.AppendTo(binary.BigEndian.AppendUint32(nil, 5))
		if _, err := decodeFetch(body, v, 5, "t"); !errors.Is(err, kafkago.OffsetOutOfRange) {
			t.Fatalf("v%d: partition error: %v, want OffsetOutOfRange", v, err)
		}
	}
}
