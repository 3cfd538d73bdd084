package pulsartest

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest/internal/pb"
)

// batchPayload frames messages the way the client's batch builder does.
func batchPayload(msgs ...string) []byte {
	var out []byte
	for _, m := range msgs {
		smm, _ := proto.Marshal(&pb.SingleMessageMetadata{PayloadSize: proto.Int32(int32(len(m)))})
		out = binary.BigEndian.AppendUint32(out, uint32(len(smm)))
		out = append(out, smm...)
		out = append(out, m...)
	}
	return out
}

func sendFrame(meta *pb.MessageMetadata, payload []byte) []byte {
	s := command(pb.BaseCommand_SEND)
	s.Send = &pb.CommandSend{ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(3), NumMessages: proto.Int32(2)}
	return appendCommand(nil, s, encodePayload(meta, payload))[4:]
}

func TestDecodeBatchFrame(t *testing.T) {
	meta := &pb.MessageMetadata{
		ProducerName: proto.String("p"), SequenceId: proto.Uint64(3), PublishTime: proto.Uint64(1),
		NumMessagesInBatch: proto.Int32(2),
	}
	cmd, hp, err := decodeFrame(sendFrame(meta, batchPayload("ab", "cde")))
	if err != nil || cmd.GetSend().GetSequenceId() != 3 {
		t.Fatalf("decode: %v %v", cmd, err)
	}
	m, payload, err := parsePayload(hp)
	if err != nil {
		t.Fatalf("parse payload: %v", err)
	}
	info := infoOf(m)
	if !info.batched || info.numMessages != 2 || info.producerName != "p" {
		t.Fatalf("info %+v", info)
	}
	_, bodies, err := splitBatch(payload, int(info.numMessages))
	if err != nil || len(bodies) != 2 || string(bodies[0]) != "ab" || string(bodies[1]) != "cde" {
		t.Fatalf("split: %q %v", bodies, err)
	}
	hp[len(hp)-1] ^= 1
	if _, _, err := parsePayload(hp); err == nil {
		t.Fatal("corrupted payload passed its checksum")
	}
}

// FuzzDecodeFrame feeds arbitrary bytes through everything the broker does
// with an incoming frame before acting on it. None of it may panic.
func FuzzDecodeFrame(f *testing.F) {
	meta := &pb.MessageMetadata{
		ProducerName: proto.String("p"), SequenceId: proto.Uint64(1), PublishTime: proto.Uint64(1),
		NumMessagesInBatch: proto.Int32(2),
	}
	f.Add(sendFrame(meta, batchPayload("x", "yz")))
	f.Add(sendFrame(&pb.MessageMetadata{ProducerName: proto.String("p"), SequenceId: proto.Uint64(1), PublishTime: proto.Uint64(1)}, []byte("single")))
	f.Add(appendCommand(nil, command(pb.BaseCommand_PING), nil)[4:])
	f.Add([]byte{0, 0, 0, 100})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		cmd, hp, err := decodeFrame(frame)
		if err != nil {
			return
		}
		_ = cmd.GetType()
		if _, ok := requestID(cmd); ok && cmd.GetType() == pb.BaseCommand_Type(0) {
			t.Fatal("request id found in a command without a type")
		}
		if hp == nil {
			return
		}
		m, payload, err := parsePayload(hp)
		if err != nil {
			return
		}
		info := infoOf(m)
		_, _, _ = splitBatch(payload, int(min(info.numMessages, 1000)))
		// Whatever was accepted must survive the store's record codec.
		rec := appendRecordForTest(entry{ledger: 1, id: 2, data: hp, info: info})
		if body, n := nextRecord(rec); n != len(rec) || !(&topicData{cursors: map[string]cursorData{}}).apply(body) {
			t.Fatalf("stored entry does not load back (n=%d of %d)", n, len(rec))
		}
	})
}

func appendRecordForTest(e entry) []byte {
	body := []byte{recEntry}
	body = binary.BigEndian.AppendUint64(body, e.ledger)
	body = binary.BigEndian.AppendUint64(body, e.id)
	body = append(body, e.data...)
	return appendRecord(nil, body)
}

// encodePayload builds headersAndPayload for a message: used by tests that
// speak the raw protocol.
func encodePayload(meta *pb.MessageMetadata, payload []byte) []byte {
	m, err := proto.Marshal(meta)
	if err != nil {
		panic(err)
	}
	out := make([]byte, 10, 10+len(m)+len(payload))
	binary.BigEndian.PutUint16(out, magicCrc32c)
	binary.BigEndian.PutUint32(out[6:], uint32(len(m)))
	out = append(out, m...)
	out = append(out, payload...)
	binary.BigEndian.PutUint32(out[2:], crc32.Checksum(out[6:], crc32cTable))
	return out
}
