package rmq

import (
	"encoding/binary"
	"fmt"
)

// Keyspaces. Every key starts with one of these bytes, so the data of all
// channels sorts after all metadata and each channel's data is contiguous.
const (
	// prefixChannel maps a channel name to its id: 'c' | name -> id (4 bytes).
	prefixChannel = 'c'
	// prefixMeta holds per-channel state: 'm' | id | kind -> 8 bytes.
	prefixMeta = 'm'
	// prefixData holds messages: 'd' | id | seq -> EncodeRecord bytes.
	prefixData = 'd'
	// prefixStore holds the store's own state: 'g' | name.
	prefixStore = 'g'
)

// Per-channel metadata kinds.
const (
	metaTerm  = 't' // highest term opened ReadWrite
	metaFirst = 'f' // first retained sequence
)

const dataKeyLen = 1 + 4 + 8

func channelKey(name string) []byte {
	return append([]byte{prefixChannel}, name...)
}

func metaKey(id uint32, kind byte) []byte {
	k := make([]byte, 0, 6)
	k = append(k, prefixMeta)
	k = binary.BigEndian.AppendUint32(k, id)
	return append(k, kind)
}

// dataKey is '<channel id>|<seq>', both big-endian so byte order is
// sequence order.
func dataKey(id uint32, seq uint64) []byte {
	return appendDataKey(make([]byte, 0, dataKeyLen), id, seq)
}

func appendDataKey(dst []byte, id uint32, seq uint64) []byte {
	dst = append(dst, prefixData)
	dst = binary.BigEndian.AppendUint32(dst, id)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// channelEnd is the exclusive upper bound of channel id's data.
func channelEnd(id uint32) []byte {
	k := make([]byte, 0, 5)
	k = append(k, prefixData)
	return binary.BigEndian.AppendUint32(k, id+1)
}

// parseDataKey returns the channel id and sequence of a data key.
func parseDataKey(k []byte) (id uint32, seq uint64, err error) {
	if len(k) != dataKeyLen || k[0] != prefixData {
		return 0, 0, fmt.Errorf("rmq: malformed data key %x", k)
	}
	return binary.BigEndian.Uint32(k[1:5]), binary.BigEndian.Uint64(k[5:]), nil
}

// formatKey holds the directory's format (8 bytes; absent: 1, before the
// journal); journalCheckpointKey the journal checkpoint (journal.go).
var (
	formatKey            = []byte{prefixStore, 'f', 'o', 'r', 'm', 'a', 't'}
	journalCheckpointKey = []byte{prefixStore, 'j', 'o', 'u', 'r', 'n', 'a', 'l'}
)

func encodeUint64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func decodeUint64(b []byte, what string) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("rmq: %s value is %d bytes, want 8", what, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func decodeChannelID(b []byte) (uint32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("rmq: channel id value is %d bytes, want 4", len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}
