package kafka

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEncodeFetchDecodesWithKmsg: every Fetch version the driver may send
// is one franz-go's codec (which kfake serves with) reads back as a
// read_committed fetch of partition 0 of each topic at its offset.
func TestEncodeFetchDecodesWithKmsg(t *testing.T) {
	lim := fetchLimits{maxWait: 500 * time.Millisecond, maxBytes: 16 << 20, isolation: readCommitted}
	parts := []fetchPart{{"topic-a", 12345, 1 << 20}, {"topic-b", 7, 2 << 20}}
	for v := int16(fetchMinVersion); v <= fetchMaxVersion; v++ {
		raw := encodeFetch(nil, v, 77, "mqwal", parts, lim)
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
		if req.ReplicaID != -1 || req.MaxWaitMillis != 500 || req.MinBytes != 1 || req.MaxBytes != 16<<20 || req.IsolationLevel != 1 || len(req.Topics) != 2 {
			t.Fatalf("v%d: %+v", v, req)
		}
		for i, want := range parts {
			rt := req.Topics[i]
			if rt.Topic != want.topic || len(rt.Partitions) != 1 {
				t.Fatalf("v%d: topic %d: %+v", v, i, rt)
			}
			p := rt.Partitions[0]
			if p.Partition != 0 || p.FetchOffset != want.offset || p.PartitionMaxBytes != want.maxBytes {
				t.Fatalf("v%d: partition %+v, want %+v", v, p, want)
			}
		}
		if v >= 7 && (req.SessionID != 0 || req.SessionEpoch != -1) {
			t.Fatalf("v%d: session %d epoch %d, want a sessionless full fetch", v, req.SessionID, req.SessionEpoch)
		}
	}
}

// decodeFetchBytes decodes a whole fetch answer (size prefix included)
// into each topic's partition 0.
func decodeFetchBytes(b []byte, version int16, corr int32) (map[string]partAnswer, error) {
	if len(b) < 4 {
		return nil, errShort
	}
	out := map[string]partAnswer{}
	err := decodeFetch(bufio.NewReader(bytes.NewReader(b[4:])), int(int32(binary.BigEndian.Uint32(b))), version, corr, func(topic []byte, a partAnswer) {
		out[string(topic)] = a
	})
	return out, err
}

// fetchAnswer encodes resp as a broker sends it: size, correlation id, body.
func fetchAnswer(resp *kmsg.FetchResponse, corr int32) []byte {
	body := resp.AppendTo(binary.BigEndian.AppendUint32(nil, uint32(corr)))
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// TestDecodeFetchOfKmsgResponses: the driver reads what franz-go encodes
// for every version it may send: offsets, aborted transactions, records
// of several topics, and partition errors as codes.
func TestDecodeFetchOfKmsgResponses(t *testing.T) {
	for v := int16(fetchMinVersion); v <= fetchMaxVersion; v++ {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = v
		other := kmsg.NewFetchResponseTopic()
		other.Topic = "other"
		op := kmsg.NewFetchResponseTopicPartition()
		op.RecordBatches = bytes.Repeat([]byte("o"), 5000) // beyond a bufio buffer
		other.Partitions = []kmsg.FetchResponseTopicPartition{op}
		topic := kmsg.NewFetchResponseTopic()
		topic.Topic = "t"
		p := kmsg.NewFetchResponseTopicPartition()
		p.HighWatermark, p.LastStableOffset, p.LogStartOffset = 40, 30, 5
		a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		a.ProducerID, a.FirstOffset = 9, 12
		p.AbortedTransactions = append(p.AbortedTransactions, a)
		p.RecordBatches = []byte("batches")
		p1 := kmsg.NewFetchResponseTopicPartition()
		p1.Partition = 1
		topic.Partitions = append(topic.Partitions, p1, p)
		resp.Topics = append(resp.Topics, other, topic)
		body := fetchAnswer(resp, 5)
		got, err := decodeFetchBytes(body, v, 5)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		wantStart := int64(5)
		if v < 5 {
			wantStart = -1
		}
		f := got["t"]
		if f.hw != 40 || f.lso != 30 || f.logStart != wantStart || len(f.aborted) != 1 || f.aborted[0] != (abortedTxn{9, 12}) || string(f.records) != "batches" {
			t.Fatalf("v%d: %+v", v, f)
		}
		if o := got["other"]; !bytes.Equal(o.records, op.RecordBatches) {
			t.Fatalf("v%d: other topic's records: %d bytes", v, len(o.records))
		}
		if _, err := decodeFetchBytes(body, v, 6); err == nil {
			t.Fatalf("v%d: a response for another correlation id was accepted", v)
		}
		cut := append([]byte(nil), body[:len(body)-3]...)
		binary.BigEndian.PutUint32(cut, uint32(len(cut)-4))
		if _, err := decodeFetchBytes(cut, v, 5); err == nil {
			t.Fatalf("v%d: a truncated response was accepted", v)
		}
		resp.Topics[1].Partitions[1].ErrorCode = int16(kafkago.OffsetOutOfRange)
		body = fetchAnswer(resp, 5)
		got, err = decodeFetchBytes(body, v, 5)
		if err != nil || !errors.Is(kafkago.Error(got["t"].code), kafkago.OffsetOutOfRange) {
			t.Fatalf("v%d: partition error: %v %+v, want OffsetOutOfRange", v, err, got["t"])
		}
		if v >= 7 {
			resp.ErrorCode = int16(kafkago.FetchSessionIDNotFound)
			body = fetchAnswer(resp, 5)
			if _, err := decodeFetchBytes(body, v, 5); !errors.Is(err, kafkago.FetchSessionIDNotFound) {
				t.Fatalf("v%d: top-level error: %v", v, err)
			}
			resp.ErrorCode = 0
		}
	}
}

// TestRecBufPool: buffers come back with the length asked for and go to
// the class they came from.
func TestRecBufPool(t *testing.T) {
	for _, n := range []int{1, 4096, 4097, 1 << 20, 1<<20 + 1, 100 << 20} {
		b := getRecBuf(n)
		if len(b) != n || cap(b) < n {
			t.Fatalf("getRecBuf(%d): len %d cap %d", n, len(b), cap(b))
		}
		putRecBuf(b)
	}
	putRecBuf(make([]byte, 5000)) // not a pool size: dropped
	if b := getRecBuf(5000); cap(b) != 8192 {
		t.Fatalf("getRecBuf(5000) has cap %d, want the 8 KiB class", cap(b))
	}
}
