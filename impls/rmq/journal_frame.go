package rmq

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// appendJournalFrame appends the frame of seq holding repr to dst.
func appendJournalFrame(dst []byte, seq uint64, repr []byte) []byte {
	var h [journalFrameHeaderLen]byte
	binary.BigEndian.PutUint32(h[0:], journalMagic)
	binary.BigEndian.PutUint32(h[4:], uint32(len(repr)))
	binary.BigEndian.PutUint64(h[8:], seq)
	binary.BigEndian.PutUint32(h[16:], journalFrameCRC(h[4:16], repr))
	dst = append(dst, h[:]...)
	return append(dst, repr...)
}

func journalFrameCRC(lengthAndSeq, repr []byte) uint32 {
	return crc32.Update(crc32.Checksum(lengthAndSeq, castagnoli), castagnoli, repr)
}

// journalFrameHeader is a parsed frame header; ok is false where no frame
// starts (zeros, garbage).
type journalFrameHeader struct {
	length uint32
	seq    uint64
	crc    uint32
}

func parseJournalFrameHeader(b []byte) (journalFrameHeader, bool) {
	if len(b) < journalFrameHeaderLen || binary.BigEndian.Uint32(b) != journalMagic {
		return journalFrameHeader{}, false
	}
	h := journalFrameHeader{
		length: binary.BigEndian.Uint32(b[4:]),
		seq:    binary.BigEndian.Uint64(b[8:]),
		crc:    binary.BigEndian.Uint32(b[16:]),
	}
	return h, true
}

// check reports whether repr is the frame's intact body.
func (h journalFrameHeader) check(repr []byte) bool {
	var f [12]byte
	binary.BigEndian.PutUint32(f[:], h.length)
	binary.BigEndian.PutUint64(f[4:], h.seq)
	return uint32(len(repr)) == h.length && journalFrameCRC(f[:], repr) == h.crc
}

// journalCheckpoint is where a frame starts and its seq: the value of
// journalCheckpointKey in that frame's batch.
type journalCheckpoint struct {
	seg, off, seq uint64
}

func encodeCheckpoint(c journalCheckpoint) []byte {
	b := make([]byte, 0, 24)
	b = binary.BigEndian.AppendUint64(b, c.seg)
	b = binary.BigEndian.AppendUint64(b, c.off)
	return binary.BigEndian.AppendUint64(b, c.seq)
}

func decodeCheckpoint(b []byte) (journalCheckpoint, error) {
	if len(b) != 24 {
		return journalCheckpoint{}, fmt.Errorf("rmq: journal checkpoint is %d bytes, want 24", len(b))
	}
	return journalCheckpoint{
		seg: binary.BigEndian.Uint64(b),
		off: binary.BigEndian.Uint64(b[8:]),
		seq: binary.BigEndian.Uint64(b[16:]),
	}, nil
}
