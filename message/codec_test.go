package message

import (
	"bytes"
	"errors"
	"maps"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		props   Properties
	}{
		{"empty", nil, nil},
		{"binary", []byte{0, 0xff, 0x80, 0}, nil},
		{"unicode props", []byte("x"), Properties{"ключ": "値", "": "empty key", "e": ""}},
		{"large", bytes.Repeat([]byte{7}, 1<<16), Properties{"a": string(bytes.Repeat([]byte{'v'}, 300))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := EncodeRecord(nil, c.payload, c.props)
			if len(enc) != EncodedRecordSize(c.payload, c.props) {
				t.Fatalf("EncodedRecordSize = %d, encoded %d", EncodedRecordSize(c.payload, c.props), len(enc))
			}
			p, props, err := DecodeRecord(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p, c.payload) || !maps.Equal(props, c.props) {
				t.Fatalf("round trip changed the record: %q %v", p, props)
			}
		})
	}
}

func TestDecodeRecordRejectsCorruption(t *testing.T) {
	good := EncodeRecord(nil, []byte("payload"), Properties{"k": "v"})
	bad := map[string][]byte{
		"empty":           {},
		"version":         append([]byte{9}, good[1:]...),
		"truncated":       good[:len(good)-1],
		"trailing":        append(append([]byte{}, good...), 0),
		"huge prop count": {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"duplicate key":   {1, 2, 1, 'k', 0, 1, 'k', 0, 0},
	}
	for name, b := range bad {
		if _, _, err := DecodeRecord(b); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: got %v, want ErrInvalidArgument", name, err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(EncodeRecord(nil, []byte("hello"), Properties{"a": "b"}))
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 1, 1, 'k', 1, 'v', 3, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, props, err := DecodeRecord(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to a record that decodes the same.
		again, props2, err := DecodeRecord(EncodeRecord(nil, payload, props))
		if err != nil || !bytes.Equal(again, payload) || !maps.Equal(props, props2) {
			t.Fatalf("re-encode mismatch: %v", err)
		}
	})
}
