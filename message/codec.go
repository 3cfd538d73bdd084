package message

import (
	"encoding/binary"
	"fmt"
)

// codecVersion1 is the first byte of every record EncodeRecord writes. A new
// layout gets a new version byte; DecodeRecord keeps reading the old ones.
const codecVersion1 = 1

// EncodeRecord appends the binary record form of payload and props to dst:
//
//	version(1) | uvarint nprops | nprops × (uvarint klen, key, uvarint vlen, value) | uvarint plen | payload
//
// Keys are written in sorted order, so equal messages encode to equal bytes.
// Backends without native properties (rmq, memory) store this form.
func EncodeRecord(dst []byte, payload []byte, props Properties) []byte {
	dst = append(dst, codecVersion1)
	dst = binary.AppendUvarint(dst, uint64(len(props)))
	for _, k := range props.Keys() {
		dst = appendBytes(dst, k)
		dst = appendBytes(dst, props[k])
	}
	dst = binary.AppendUvarint(dst, uint64(len(payload)))
	return append(dst, payload...)
}

// EncodedRecordSize is the exact length EncodeRecord will append.
func EncodedRecordSize(payload []byte, props Properties) int {
	n := 1 + uvarintLen(uint64(len(props))) + uvarintLen(uint64(len(payload))) + len(payload)
	for k, v := range props {
		n += uvarintLen(uint64(len(k))) + len(k) + uvarintLen(uint64(len(v))) + len(v)
	}
	return n
}

// DecodeRecord parses a record written by EncodeRecord. The returned payload
// aliases b. Any malformed input, including trailing bytes, gives an error
// wrapping ErrInvalidArgument; it never panics and never allocates more than
// the input can justify.
func DecodeRecord(b []byte) (payload []byte, props Properties, err error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: empty record", ErrInvalidArgument)
	}
	if b[0] != codecVersion1 {
		return nil, nil, fmt.Errorf("%w: unknown record version %d", ErrInvalidArgument, b[0])
	}
	r := recordReader{b: b[1:]}
	n := r.uvarint()
	// Each property needs at least two bytes: refuse counts the input cannot hold.
	if r.err == nil && n > uint64(len(r.b))/2 {
		return nil, nil, fmt.Errorf("%w: record claims %d properties in %d bytes", ErrInvalidArgument, n, len(r.b))
	}
	if n > 0 {
		props = make(Properties, n)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		k, v := r.bytes(), r.bytes()
		if r.err == nil {
			if _, dup := props[string(k)]; dup {
				return nil, nil, fmt.Errorf("%w: record repeats property %q", ErrInvalidArgument, k)
			}
			props[string(k)] = string(v)
		}
	}
	payload = r.bytes()
	if r.err != nil {
		return nil, nil, r.err
	}
	if len(r.b) != 0 {
		return nil, nil, fmt.Errorf("%w: %d trailing bytes after record", ErrInvalidArgument, len(r.b))
	}
	return payload, props, nil
}

func appendBytes(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// recordReader consumes a byte slice, remembering the first error so the
// decoder reads as straight-line code.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: truncated or overlong length in record", ErrInvalidArgument)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: record field of %d bytes exceeds the %d left", ErrInvalidArgument, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}
