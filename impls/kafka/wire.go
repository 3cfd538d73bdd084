package kafka

import (
	"encoding/binary"
	"errors"
)

// errShort is what a wire reader reports when its bytes end inside a field.
var errShort = errors.New("truncated")

// wire reads Kafka's big-endian and zig-zag varint encodings from a byte
// slice without copying. The first short read sets err and every later read
// returns zero values, so a decoder checks err once at the end of a unit.
type wire struct {
	b   []byte
	err error
}

func (r *wire) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.fail()
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *wire) fail() {
	if r.err == nil {
		r.err = errShort
	}
	r.b = nil
}

func (r *wire) int8() int8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return int8(b[0])
}

func (r *wire) int16() int16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(b))
}

func (r *wire) int32() int32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (r *wire) int64() int64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

func (r *wire) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// string16 skips an int16-length string (nullable) and returns its bytes.
func (r *wire) string16() []byte {
	n := r.int16()
	if n < 0 {
		return nil
	}
	return r.take(int(n))
}

// bytes32 returns an int32-length byte string; nil for null (length -1).
func (r *wire) bytes32() []byte {
	n := r.int32()
	if n < 0 {
		return nil
	}
	return r.take(int(n))
}

// varbytes returns a varint-length byte string and whether it is non-null
// (length -1 is null).
func (r *wire) varbytes() ([]byte, bool) {
	n := r.varint()
	if n < 0 {
		return nil, false
	}
	if n > int64(len(r.b)) {
		r.fail()
		return nil, false
	}
	return r.take(int(n)), true
}

// arrayLen reads an int32 array length, refusing one that cannot fit in
// what is left at min bytes per element (so a corrupt length cannot make a
// decoder allocate or loop for long).
func (r *wire) arrayLen(minElem int) int {
	n := r.int32()
	if n < 0 {
		return 0
	}
	if int64(n)*int64(minElem) > int64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}
