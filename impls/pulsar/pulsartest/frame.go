package pulsartest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest/internal/pb"
)

// Wire format (PulsarApi.proto, "Framing"):
//
//	simple:  [TOTAL_SIZE u32][CMD_SIZE u32][CMD]
//	payload: [TOTAL_SIZE u32][CMD_SIZE u32][CMD][MAGIC 0x0e01 u16][CRC32C u32]
//	         [METADATA_SIZE u32][METADATA][PAYLOAD]
//
// The checksum covers everything after itself. A batch payload is a sequence
// of [SINGLE_METADATA_SIZE u32][SingleMessageMetadata][PAYLOAD].
const (
	magicCrc32c = 0x0e01

	// framePadding matches the client's MessageFramePadding: the room a frame
	// may take beyond max_message_size for the command and metadata. A real
	// broker's frame decoder uses the same allowance.
	framePadding = 10 * 1024

	// DefaultMaxMessageSize is what a real broker announces by default and
	// what the client assumes when CONNECTED carries no max_message_size.
	DefaultMaxMessageSize = 5 * 1024 * 1024
)

var crc32cTable = crc32.MakeTable(crc32.Castagnoli)

var (
	errFrameTooShort = errors.New("pulsartest: frame too short")
	errBadMagic      = errors.New("pulsartest: payload without crc32c magic")
	errBadChecksum   = errors.New("pulsartest: payload checksum mismatch")
)

// decodeFrame splits one frame (without its leading TOTAL_SIZE) into the
// command and the bytes that follow it (nil for a simple command). It never
// panics on arbitrary input: the fuzz test holds it to that.
func decodeFrame(frame []byte) (*pb.BaseCommand, []byte, error) {
	if len(frame) < 4 {
		return nil, nil, errFrameTooShort
	}
	cmdSize := binary.BigEndian.Uint32(frame)
	if uint64(cmdSize) > uint64(len(frame)-4) {
		return nil, nil, fmt.Errorf("pulsartest: command size %d exceeds frame size %d", cmdSize, len(frame))
	}
	cmd := &pb.BaseCommand{}
	if err := proto.Unmarshal(frame[4:4+cmdSize], cmd); err != nil {
		return nil, nil, fmt.Errorf("pulsartest: bad command: %w", err)
	}
	var rest []byte
	if int(4+cmdSize) < len(frame) {
		rest = frame[4+cmdSize:]
	}
	return cmd, rest, nil
}

// readFrame reads one frame into buf (grown as needed) and returns it without
// the size prefix. A frame over maxFrame is refused before it is read, as a
// real broker's length-field decoder does, so a hostile size cannot make the
// broker allocate gigabytes.
func readFrame(r io.Reader, buf []byte, maxFrame int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if uint64(size) > uint64(maxFrame) {
		return nil, fmt.Errorf("pulsartest: frame of %d bytes exceeds the limit of %d", size, maxFrame)
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// entryInfo is what the broker needs from a stored entry's metadata.
type entryInfo struct {
	producerName string
	sequenceID   uint64
	highestSeq   uint64
	publishTime  uint64
	numMessages  int32
	batched      bool
}

// parsePayload checks the checksum of headersAndPayload (as sent after a SEND
// command and as stored) and decodes its MessageMetadata.
func parsePayload(hp []byte) (*pb.MessageMetadata, []byte, error) {
	if len(hp) < 10 {
		return nil, nil, errFrameTooShort
	}
	if binary.BigEndian.Uint16(hp) != magicCrc32c {
		return nil, nil, errBadMagic
	}
	if crc32.Checksum(hp[6:], crc32cTable) != binary.BigEndian.Uint32(hp[2:]) {
		return nil, nil, errBadChecksum
	}
	metaSize := binary.BigEndian.Uint32(hp[6:])
	if uint64(metaSize) > uint64(len(hp)-10) {
		return nil, nil, fmt.Errorf("pulsartest: metadata size %d exceeds payload", metaSize)
	}
	meta := &pb.MessageMetadata{}
	if err := proto.Unmarshal(hp[10:10+metaSize], meta); err != nil {
		return nil, nil, fmt.Errorf("pulsartest: bad message metadata: %w", err)
	}
	return meta, hp[10+metaSize:], nil
}

func infoOf(meta *pb.MessageMetadata) entryInfo {
	n := int32(1)
	if meta.NumMessagesInBatch != nil {
		n = meta.GetNumMessagesInBatch()
	}
	if n < 1 {
		n = 1
	}
	return entryInfo{
		producerName: meta.GetProducerName(),
		sequenceID:   meta.GetSequenceId(),
		highestSeq:   meta.GetHighestSequenceId(),
		publishTime:  meta.GetPublishTime(),
		numMessages:  n,
		// The client treats any entry whose metadata carries
		// num_messages_in_batch as a batch, even a batch of one.
		batched: meta.NumMessagesInBatch != nil,
	}
}

// splitBatch decodes an uncompressed batch payload into its messages. The
// broker does not need it to store or deliver (entries are kept verbatim);
// it exists so tests and the fuzzer can check batch framing.
func splitBatch(payload []byte, n int) ([]*pb.SingleMessageMetadata, [][]byte, error) {
	metas := make([]*pb.SingleMessageMetadata, 0, min(n, 1024))
	bodies := make([][]byte, 0, min(n, 1024))
	for i := 0; i < n; i++ {
		if len(payload) < 4 {
			return nil, nil, fmt.Errorf("pulsartest: batch truncated at message %d", i)
		}
		sz := binary.BigEndian.Uint32(payload)
		if uint64(sz) > uint64(len(payload)-4) {
			return nil, nil, fmt.Errorf("pulsartest: single metadata size %d exceeds batch", sz)
		}
		smm := &pb.SingleMessageMetadata{}
		if err := proto.Unmarshal(payload[4:4+sz], smm); err != nil {
			return nil, nil, fmt.Errorf("pulsartest: bad single message metadata: %w", err)
		}
		payload = payload[4+sz:]
		ps := smm.GetPayloadSize()
		if ps < 0 || int(ps) > len(payload) {
			return nil, nil, fmt.Errorf("pulsartest: message %d payload size %d exceeds batch", i, ps)
		}
		metas = append(metas, smm)
		bodies = append(bodies, payload[:ps])
		payload = payload[ps:]
	}
	return metas, bodies, nil
}

// appendCommand appends a whole frame for cmd, followed by payload (already
// in headersAndPayload form, or nil), to dst.
func appendCommand(dst []byte, cmd *pb.BaseCommand, payload []byte) []byte {
	size := proto.Size(cmd)
	dst = binary.BigEndian.AppendUint32(dst, uint32(4+size+len(payload)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	dst, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(dst, cmd)
	if err != nil {
		// Only a missing required field fails here: a bug in this package.
		panic(fmt.Sprintf("pulsartest: marshal %v: %v", cmd.GetType(), err))
	}
	return append(dst, payload...)
}
