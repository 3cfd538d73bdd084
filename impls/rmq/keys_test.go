package rmq

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

func TestDataKeyOrder(t *testing.T) {
	// Byte order of keys is (channel, sequence) order, and a channel's range
	// ends before the next channel's first key.
	keys := [][]byte{dataKey(1, 0), dataKey(1, 255), dataKey(1, 256), dataKey(1, 1<<63), channelEnd(1), dataKey(2, 0)}
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) > 0 {
			t.Fatalf("key %x sorts after %x", keys[i-1], keys[i])
		}
	}
	if bytes.Compare(dataKey(1, ^uint64(0)), channelEnd(1)) >= 0 {
		t.Fatal("the last sequence of a channel is not below its end bound")
	}
}

func FuzzDataKey(f *testing.F) {
	f.Add(uint32(0), uint64(0), []byte{})
	f.Add(uint32(7), uint64(1<<40), []byte("d\x00\x00\x00\x07"))
	f.Add(uint32(1<<31), ^uint64(0), dataKey(3, 9))
	f.Fuzz(func(t *testing.T, id uint32, seq uint64, raw []byte) {
		gotID, gotSeq, err := parseDataKey(dataKey(id, seq))
		if err != nil || gotID != id || gotSeq != seq {
			t.Fatalf("parse(dataKey(%d, %d)) = %d, %d, %v", id, seq, gotID, gotSeq, err)
		}
		// Arbitrary bytes parse or fail, never panic, and what parses
		// re-encodes to itself.
		if id, seq, err := parseDataKey(raw); err == nil && !bytes.Equal(dataKey(id, seq), raw) {
			t.Fatalf("parseDataKey(%x) = %d, %d, which encodes differently", raw, id, seq)
		}
	})
}

// FuzzReadRecord stores arbitrary bytes as a record and reads them through
// the driver's scanner: a malformed record ends the scanner with an error
// wrapping ErrInvalidArgument; a well-formed one comes back as written.
func FuzzReadRecord(f *testing.F) {
	f.Add(message.EncodeRecord(nil, []byte("payload"), message.Properties{"k": "v"}))
	f.Add(message.EncodeRecord(nil, nil, nil))
	f.Add([]byte{})
	f.Add([]byte{2, 0, 0})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{1, 1, 1, 'a', 1, 'b', 5, 'x'})
	o := newOpener(f, f.TempDir(), WithSyncMode(SyncNone))
	defer o.Close()
	w := openWAL(f, o, "fuzz", 1, walimpls.ReadWrite)
	ch := w.(*wal).ch
	db := o.(*opener).store.db
	f.Fuzz(func(t *testing.T, raw []byte) {
		id, err := w.Append(context.Background(), message.NewMutableMessage(nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		seq := uint64(id.(helper.Int64ID).Value())
		if err := db.Set(dataKey(ch.id, seq), raw, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.StartFrom(id)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var m message.ImmutableMessage
		select {
		case m = <-s.Chan():
		case <-time.After(10 * time.Second):
			t.Fatal("scanner stalled")
		}
		payload, props, decErr := message.DecodeRecord(raw)
		if m == nil {
			if decErr == nil || !errors.Is(s.Error(), walimpls.ErrInvalidArgument) {
				t.Fatalf("scanner ended with %v; DecodeRecord says %v", s.Error(), decErr)
			}
			return
		}
		if decErr != nil || !bytes.Equal(m.Payload(), payload) || !maps.Equal(m.Properties(), props) || !m.MessageID().EQ(id) {
			t.Fatalf("scanner delivered %v %q %v for a record DecodeRecord reads as %q %v, %v", m.MessageID(), m.Payload(), m.Properties(), payload, props, decErr)
		}
	})
}
