package rmq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// A value log record is a header followed by the message's EncodeRecord
// bytes (the body):
//
//	magic u32 | channel id u32 | seq u64 | body length u32 | crc32c u32 | body
//
// all big-endian. The crc covers the body and then the channel, seq and
// length fields, so the body's part can be computed before the sequence is
// known, outside the channel lock.
const (
	vlogMagic     uint32 = 0x6d71766c // "mqvl"
	vlogHeaderLen        = 4 + 4 + 8 + 4 + 4
)

// A Pebble value that points into the value log instead of holding the
// record inline:
//
//	vlogPointerMarker | segment first seq u64 | offset u64 | body length u32 | crc u32
//
// The marker is never a valid first byte of EncodeRecord (its version byte),
// so inline values written before the value log existed still read as they
// are.
const (
	vlogPointerMarker = 0xF0
	vlogPointerLen    = 1 + 8 + 8 + 4 + 4
)

// errVlogRecord marks a record that is torn, short or fails its checks.
var errVlogRecord = errors.New("bad value log record")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type vlogHeader struct {
	channel uint32
	seq     uint64
	length  uint32
	crc     uint32
}

// vlogBodyCRC is the body's part of a record crc.
func vlogBodyCRC(body []byte) uint32 { return crc32.Checksum(body, castagnoli) }

// sealCRC finishes a record crc from its body's part and h's fields.
func (h vlogHeader) sealCRC(bodyCRC uint32) uint32 {
	var f [16]byte
	binary.BigEndian.PutUint32(f[:], h.channel)
	binary.BigEndian.PutUint64(f[4:], h.seq)
	binary.BigEndian.PutUint32(f[12:], h.length)
	return crc32.Update(bodyCRC, castagnoli, f[:])
}

// putVlogHeader writes h into the first vlogHeaderLen bytes of dst.
func putVlogHeader(dst []byte, h vlogHeader) {
	binary.BigEndian.PutUint32(dst, vlogMagic)
	binary.BigEndian.PutUint32(dst[4:], h.channel)
	binary.BigEndian.PutUint64(dst[8:], h.seq)
	binary.BigEndian.PutUint32(dst[16:], h.length)
	binary.BigEndian.PutUint32(dst[20:], h.crc)
}

// parseVlogHeader checks the magic only: the fields are trusted once the
// body's crc matches (decodeVlogRecord).
func parseVlogHeader(b []byte) (vlogHeader, error) {
	if len(b) < vlogHeaderLen {
		return vlogHeader{}, fmt.Errorf("%w: header of %d bytes, want %d", errVlogRecord, len(b), vlogHeaderLen)
	}
	if m := binary.BigEndian.Uint32(b); m != vlogMagic {
		return vlogHeader{}, fmt.Errorf("%w: magic %08x, want %08x", errVlogRecord, m, vlogMagic)
	}
	return vlogHeader{
		channel: binary.BigEndian.Uint32(b[4:]),
		seq:     binary.BigEndian.Uint64(b[8:]),
		length:  binary.BigEndian.Uint32(b[16:]),
		crc:     binary.BigEndian.Uint32(b[20:]),
	}, nil
}

// decodeVlogRecord parses exactly one whole record and verifies its crc.
// The body aliases b.
func decodeVlogRecord(b []byte) (vlogHeader, []byte, error) {
	h, err := parseVlogHeader(b)
	if err != nil {
		return h, nil, err
	}
	if uint64(len(b)-vlogHeaderLen) != uint64(h.length) {
		return h, nil, fmt.Errorf("%w: sequence %d: body of %d bytes, header says %d", errVlogRecord, h.seq, len(b)-vlogHeaderLen, h.length)
	}
	body := b[vlogHeaderLen:]
	if got := h.sealCRC(vlogBodyCRC(body)); got != h.crc {
		return h, nil, fmt.Errorf("%w: sequence %d: crc %08x, header says %08x", errVlogRecord, h.seq, got, h.crc)
	}
	return h, body, nil
}

// vlogPointer locates a record: the segment (by its first sequence), the
// record's offset in it, and what its header must say.
type vlogPointer struct {
	segment uint64
	offset  uint64
	length  uint32
	crc     uint32
}

func appendVlogPointer(dst []byte, p vlogPointer) []byte {
	dst = append(dst, vlogPointerMarker)
	dst = binary.BigEndian.AppendUint64(dst, p.segment)
	dst = binary.BigEndian.AppendUint64(dst, p.offset)
	dst = binary.BigEndian.AppendUint32(dst, p.length)
	return binary.BigEndian.AppendUint32(dst, p.crc)
}

// parseVlogPointer reports whether v is a pointer (ok) and decodes it; an
// inline value gives ok == false and no error.
func parseVlogPointer(v []byte) (p vlogPointer, ok bool, err error) {
	if len(v) == 0 || v[0] != vlogPointerMarker {
		return p, false, nil
	}
	if len(v) != vlogPointerLen {
		return p, true, fmt.Errorf("%w: value log pointer of %d bytes, want %d", errVlogRecord, len(v), vlogPointerLen)
	}
	return vlogPointer{
		segment: binary.BigEndian.Uint64(v[1:]),
		offset:  binary.BigEndian.Uint64(v[9:]),
		length:  binary.BigEndian.Uint32(v[17:]),
		crc:     binary.BigEndian.Uint32(v[21:]),
	}, true, nil
}
