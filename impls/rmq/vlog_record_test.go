package rmq

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mqwal/mqwal/message"
)

// vlogRecord is a whole record as the append path writes it.
func vlogRecord(channel uint32, seq uint64, body []byte) []byte {
	rec := make([]byte, vlogHeaderLen+len(body))
	copy(rec[vlogHeaderLen:], body)
	h := vlogHeader{channel: channel, seq: seq, length: uint32(len(body))}
	h.crc = h.sealCRC(vlogBodyCRC(body))
	putVlogHeader(rec, h)
	return rec
}

func TestVlogRecordRoundTrip(t *testing.T) {
	body := message.EncodeRecord(nil, []byte("payload"), message.Properties{"k": "v"})
	rec := vlogRecord(7, 42, body)
	h, got, err := decodeVlogRecord(rec)
	if err != nil || h.channel != 7 || h.seq != 42 || int(h.length) != len(body) || !bytes.Equal(got, body) {
		t.Fatalf("decode = %+v %q %v", h, got, err)
	}
	if body[0] == vlogPointerMarker {
		t.Fatal("EncodeRecord's version byte collides with the pointer marker")
	}
}

func TestVlogRecordRejectsDamage(t *testing.T) {
	rec := vlogRecord(1, 5, []byte("some body bytes"))
	flip := func(i int) []byte {
		b := bytes.Clone(rec)
		b[i] ^= 0x40
		return b
	}
	for name, b := range map[string][]byte{
		"empty":        nil,
		"short header": rec[:vlogHeaderLen-1],
		"torn body":    rec[:len(rec)-1],
		"trailing":     append(bytes.Clone(rec), 0),
		"magic":        flip(0),
		"channel":      flip(5),
		"seq":          flip(15),
		"length":       flip(19),
		"crc":          flip(22),
		"body":         flip(vlogHeaderLen + 3),
		"zeros":        make([]byte, len(rec)),
	} {
		if _, _, err := decodeVlogRecord(b); !errors.Is(err, errVlogRecord) {
			t.Errorf("%s: decode = %v, want errVlogRecord", name, err)
		}
	}
}

func TestVlogPointerRoundTrip(t *testing.T) {
	p := vlogPointer{segment: 1 << 40, offset: 123456789, length: 1 << 20, crc: 0xdeadbeef}
	got, ok, err := parseVlogPointer(appendVlogPointer(nil, p))
	if err != nil || !ok || got != p {
		t.Fatalf("parse = %+v %v %v", got, ok, err)
	}
	inline := message.EncodeRecord(nil, []byte("x"), nil)
	if _, ok, err := parseVlogPointer(inline); ok || err != nil {
		t.Fatalf("an inline record parsed as a pointer: %v %v", ok, err)
	}
	if _, ok, err := parseVlogPointer([]byte{vlogPointerMarker, 1, 2}); !ok || !errors.Is(err, errVlogRecord) {
		t.Fatalf("short pointer: %v %v", ok, err)
	}
}

// FuzzDecodeVlogRecord: any input either fails with errVlogRecord or is a
// record that encodes back to the same bytes; it never panics.
func FuzzDecodeVlogRecord(f *testing.F) {
	f.Add(vlogRecord(1, 2, []byte("body")))
	f.Add(vlogRecord(0, 0, nil))
	f.Add([]byte{0x6d, 0x71, 0x76, 0x6c})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, err := parseVlogPointer(b); err != nil && !errors.Is(err, errVlogRecord) {
			t.Fatalf("pointer parse error %v does not wrap errVlogRecord", err)
		}
		h, body, err := decodeVlogRecord(b)
		if err != nil {
			if !errors.Is(err, errVlogRecord) {
				t.Fatalf("error %v does not wrap errVlogRecord", err)
			}
			return
		}
		if again := vlogRecord(h.channel, h.seq, body); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs: %x vs %x", again, b)
		}
	})
}
