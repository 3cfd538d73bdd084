package kafka

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/message"
)

// TestEncodeProduceDecodesWithKmsg: every Produce version the driver may
// send is one franz-go's codec (which kfake serves with) reads back as an
// acks=all produce of partition 0 of each topic with its batch.
func TestEncodeProduceDecodesWithKmsg(t *testing.T) {
	body := encodeRecordBody(nil, []byte("payload"), message.Properties{"k": "v"})
	reqs := []*produceReq{
		{topic: "topic-a", batch: frameBatch(producerState{id: producerID("topic-a"), epoch: 1, sequence: 3}, 1, [][]byte{body})},
		{topic: "topic-b", batch: frameBatch(producerState{id: producerID("topic-b"), epoch: 2, sequence: 0}, 1, [][]byte{body, body})},
	}
	for v := int16(produceMinVersion); v <= produceMaxVersion; v++ {
		raw := encodeProduce(nil, v, 99, "mqwal", 7*time.Second, reqs)
		if int(binary.BigEndian.Uint32(raw)) != len(raw)-4 {
			t.Fatalf("v%d: size prefix %d, request is %d bytes", v, binary.BigEndian.Uint32(raw), len(raw)-4)
		}
		r := wire{b: raw[4:]}
		key, ver, corr, client := r.int16(), r.int16(), r.int32(), r.string16()
		if key != 0 || ver != v || corr != 99 || string(client) != "mqwal" || r.err != nil {
			t.Fatalf("v%d: header key %d version %d corr %d client %q", v, key, ver, corr, client)
		}
		req := kmsg.ProduceRequest{Version: v}
		if err := req.ReadFrom(r.b); err != nil {
			t.Fatalf("v%d: kmsg cannot read the request: %v", v, err)
		}
		if req.TransactionID != nil || req.Acks != -1 || req.TimeoutMillis != 7000 || len(req.Topics) != 2 {
			t.Fatalf("v%d: %+v", v, req)
		}
		for i, want := range reqs {
			rt := req.Topics[i]
			if rt.Topic != want.topic || len(rt.Partitions) != 1 || rt.Partitions[0].Partition != 0 {
				t.Fatalf("v%d: topic %d: %+v", v, i, rt)
			}
			if !bytes.Equal(rt.Partitions[0].Records, want.batch[4:]) {
				t.Fatalf("v%d: topic %d: records differ from the batch", v, i)
			}
		}
	}
}

// produceAnswer encodes resp as a broker sends it, without the size: the
// correlation id, then the body.
func produceAnswer(resp *kmsg.ProduceResponse, corr int32) []byte {
	return resp.AppendTo(binary.BigEndian.AppendUint32(nil, uint32(corr)))
}

// TestDecodeProduceOfKmsgResponses: the driver reads what franz-go encodes
// for every version it may send: partition 0's code, base offset and (v8)
// message per topic, other partitions ignored; a truncated answer or one
// for another correlation id is refused.
func TestDecodeProduceOfKmsgResponses(t *testing.T) {
	for v := int16(produceMinVersion); v <= produceMaxVersion; v++ {
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = v
		for i, name := range []string{"a", "b"} {
			topic := kmsg.NewProduceResponseTopic()
			topic.Topic = name
			p1 := kmsg.NewProduceResponseTopicPartition()
			p1.Partition, p1.BaseOffset = 1, 1000
			p := kmsg.NewProduceResponseTopicPartition()
			p.BaseOffset = int64(40 + i)
			if name == "b" {
				p.ErrorCode = 6 // NOT_LEADER_OR_FOLLOWER
				msg := "moved"
				p.ErrorMessage = &msg
				re := kmsg.NewProduceResponseTopicPartitionErrorRecord()
				re.RelativeOffset = 2
				p.ErrorRecords = append(p.ErrorRecords, re)
			}
			topic.Partitions = append(topic.Partitions, p1, p)
			resp.Topics = append(resp.Topics, topic)
		}
		body := produceAnswer(resp, 5)
		got, err := decodeProduce(body, v, 5)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		if a := got["a"]; a.code != 0 || a.base != 40 {
			t.Fatalf("v%d: a: %+v", v, a)
		}
		wantMsg := ""
		if v >= 8 {
			wantMsg = "moved"
		}
		if b := got["b"]; b.code != 6 || b.base != 41 || b.msg != wantMsg {
			t.Fatalf("v%d: b: %+v", v, b)
		}
		if _, err := decodeProduce(body, v, 6); err == nil {
			t.Fatalf("v%d: an answer for another correlation id was accepted", v)
		}
		for cut := 0; cut < len(body); cut++ {
			if _, err := decodeProduce(body[:cut], v, 5); err == nil {
				t.Fatalf("v%d: an answer cut to %d of %d bytes was accepted", v, cut, len(body))
			}
		}
	}
}

// FuzzDecodeProduce: whatever bytes a broker sends back, decodeProduce
// returns an error or topics' results, and never panics; what kmsg reads
// as a valid answer of the version it reads the same.
func FuzzDecodeProduce(f *testing.F) {
	for v := int16(produceMinVersion); v <= produceMaxVersion; v++ {
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = v
		topic := kmsg.NewProduceResponseTopic()
		topic.Topic = "t"
		p := kmsg.NewProduceResponseTopicPartition()
		p.BaseOffset = 77
		topic.Partitions = append(topic.Partitions, p)
		resp.Topics = append(resp.Topics, topic)
		f.Add(produceAnswer(resp, 1), v)
	}
	f.Add([]byte{0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff}, int16(8))
	f.Fuzz(func(t *testing.T, b []byte, v int16) {
		if v < produceMinVersion || v > produceMaxVersion {
			return
		}
		got, err := decodeProduce(b, v, 1)
		if err != nil || len(b) < 4 {
			return
		}
		resp := kmsg.ProduceResponse{Version: v}
		if resp.ReadFrom(b[4:]) != nil {
			return
		}
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				if p.Partition != 0 {
					continue
				}
				if g, ok := got[rt.Topic]; !ok || g.code != p.ErrorCode {
					// The last partition 0 of a repeated topic wins in
					// both; compare only unrepeated topics.
					if countTopic(resp.Topics, rt.Topic) == 1 && countPart0(rt) == 1 {
						t.Fatalf("topic %q: got %+v ok %v, kmsg read %+v", rt.Topic, g, ok, p)
					}
				} else if countTopic(resp.Topics, rt.Topic) == 1 && countPart0(rt) == 1 && g.base != p.BaseOffset {
					t.Fatalf("topic %q: base %d, kmsg read %d", rt.Topic, g.base, p.BaseOffset)
				}
			}
		}
	})
}

func countTopic(ts []kmsg.ProduceResponseTopic, name string) (n int) {
	for _, t := range ts {
		if t.Topic == name {
			n++
		}
	}
	return n
}

func countPart0(t kmsg.ProduceResponseTopic) (n int) {
	for _, p := range t.Partitions {
		if p.Partition == 0 {
			n++
		}
	}
	return n
}

// FuzzDecodeFetch: whatever bytes a broker sends back to a fetch of many
// partitions, decodeFetch returns an error or hands out answers, never
// panics, and every records buffer it hands out lies within the answer.
func FuzzDecodeFetch(f *testing.F) {
	for v := int16(fetchMinVersion); v <= fetchMaxVersion; v++ {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = v
		for _, name := range []string{"a", "b"} {
			topic := kmsg.NewFetchResponseTopic()
			topic.Topic = name
			p := kmsg.NewFetchResponseTopicPartition()
			p.HighWatermark = 9
			p.RecordBatches = []byte("records of " + name)
			a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
			p.AbortedTransactions = append(p.AbortedTransactions, a)
			topic.Partitions = append(topic.Partitions, p)
			resp.Topics = append(resp.Topics, topic)
		}
		f.Add(fetchAnswer(resp, 3)[4:], v)
	}
	f.Fuzz(func(t *testing.T, b []byte, v int16) {
		if v < fetchMinVersion || v > fetchMaxVersion {
			return
		}
		total := 0
		err := decodeFetch(bufio.NewReaderSize(bytes.NewReader(b), 16), len(b), v, 3, func(topic []byte, a partAnswer) {
			total += len(topic) + len(a.records) + 16*len(a.aborted)
			putRecBuf(a.records)
		})
		if err == nil && total > len(b) {
			t.Fatalf("answers of %d bytes from %d bytes", total, len(b))
		}
	})
}
