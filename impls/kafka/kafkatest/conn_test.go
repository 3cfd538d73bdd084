package kafkatest

import (
	"encoding/binary"
	"testing"
)

// FuzzScanRequests feeds arbitrary bytes, split at an arbitrary point, to
// the request framing tracker: it must never panic, and a well-formed
// header must be recorded under its correlation ID.
func FuzzScanRequests(f *testing.F) {
	hdr := func(size int32, key int16, corr int32) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(size))
		b = binary.BigEndian.AppendUint16(b, uint16(key))
		b = binary.BigEndian.AppendUint16(b, 9)
		return binary.BigEndian.AppendUint32(b, uint32(corr))
	}
	f.Add(append(hdr(8, 0, 7), hdr(12, 3, 8)...), 5)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}, 3)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		fc := &faultConn{c: &Cluster{}, keys: map[int32]int16{}}
		if split < 0 || split > len(data) {
			split = len(data) / 2
		}
		fc.scanRequests(data[:split])
		fc.scanRequests(data[split:])
		if len(data) >= 12 {
			corr := int32(binary.BigEndian.Uint32(data[8:12]))
			if _, ok := fc.keys[corr]; !ok {
				t.Fatalf("first request header (correlation %d) not recorded", corr)
			}
		}
	})
}
