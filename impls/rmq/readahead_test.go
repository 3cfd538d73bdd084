package rmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// sizedPayload is message i of a channel whose first small messages are
// 16 bytes and the rest 8 KiB, each filled with its index.
func sizedPayload(i, small int) []byte {
	n := 16
	if i >= small {
		n = 8 << 10
	}
	return bytes.Repeat([]byte{byte(i)}, n)
}

// Reads ahead are sized by the last chunk's messages; when the messages
// grow, a read ahead stops at its byte bound before the next one starts
// and the scanner reads the gap itself. Every message comes once, in
// order, with its bytes.
func TestReadAheadFillsTheGapsItsShortReadsLeave(t *testing.T) {
	const small, n = 3 * chunkMessages, 3*chunkMessages + 3000
	o := newOpener(t, t.TempDir(), WithSyncMode(SyncNone))
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite).(*wal)
	for i := range n {
		if _, err := w.Append(context.Background(), message.NewMutableMessage(sizedPayload(i, small), nil)); err != nil {
			t.Fatal(err)
		}
	}
	ra := scanChunks(t, w, func(seq int) []byte { return sizedPayload(seq, small) })
	// The first chunk and the gaps are read in place: more than one such
	// read means a read ahead stopped short and its gap was filled.
	if ra.readsAhead == 0 || ra.readsInPlace < 2 {
		t.Fatalf("%d chunks read ahead, %d in place: want some of each, and a gap filled", ra.readsAhead, ra.readsInPlace)
	}
}

// With every slot of the store taken (other scanners reading ahead), a
// scanner far behind reads in place, and a scanner that ends, read to the
// end or closed early, gives its slots back.
func TestReadAheadSlots(t *testing.T) {
	o := newOpener(t, t.TempDir(), WithSyncMode(SyncNone))
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite).(*wal)
	n := 8 * chunkMessages
	appendN(t, w, n, "m")
	slots := w.opener.store.readAheadSlots
	for range cap(slots) {
		slots <- struct{}{}
	}
	ra := scanChunks(t, w, func(seq int) []byte { return fmt.Appendf(nil, "m-%d", seq) })
	if ra.readsAhead != 0 {
		t.Fatalf("%d chunks read ahead with no slot free", ra.readsAhead)
	}
	for range cap(slots) {
		<-slots
	}
	ra = scanChunks(t, w, func(seq int) []byte { return fmt.Appendf(nil, "m-%d", seq) })
	if ra.readsAhead == 0 || len(slots) != 0 {
		t.Fatalf("%d chunks read ahead, %d slots still taken after the scan", ra.readsAhead, len(slots))
	}
	for _, read := range []int{1, chunkMessages, 3 * chunkMessages} {
		s, err := w.Read(context.Background(), walimpls.ReadOption{ReadAheadBufferSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		for range read {
			<-s.Chan()
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if len(slots) != 0 {
			t.Fatalf("%d slots still taken after a scanner closed at %d", len(slots), read)
		}
	}
}

// scanChunks reads every durable message of w through a readAhead, as the
// scanner does, checking each chunk's start, sequences and payloads.
func scanChunks(t *testing.T, w *wal, payload func(seq int) []byte) *readAhead {
	t.Helper()
	ra := newReadAhead(w)
	defer ra.stop()
	_, end, _ := w.ch.view()
	for pos := uint64(0); pos < end; {
		c, err := ra.next(pos, end)
		if err != nil {
			t.Fatal(err)
		}
		if c.start != pos || len(c.msgs) == 0 {
			t.Fatalf("chunk at %d starts at %d with %d messages", pos, c.start, len(c.msgs))
		}
		for i, m := range c.msgs {
			seq := int(pos) + i
			if got := m.MessageID().(helper.Int64ID).Value(); got != int64(seq) {
				t.Fatalf("message %d of the chunk at %d has sequence %d", i, pos, got)
			}
			if !bytes.Equal(m.Payload(), payload(seq)) {
				t.Fatalf("sequence %d: payload %q, want %q", seq, m.Payload(), payload(seq))
			}
		}
		ra.schedule(pos+uint64(len(c.msgs)), end)
		pos += uint64(len(c.msgs))
		ra.recycle(c)
	}
	return ra
}

// A read failing under a read ahead ends the scanner with the error, after
// every message before it and none after.
func TestReadAheadReadError(t *testing.T) {
	dir := t.TempDir()
	fault := &diskFault{pick: func(op errorfs.Op) error {
		if op.Kind != errorfs.OpFileReadAt || !hasSuffix(op.Path, []string{".sst"}) {
			return nil
		}
		return &os.PathError{Op: "read", Path: op.Path, Err: syscall.EIO}
	}}
	n := 8 * chunkMessages
	fillChannel(t, dir, "ch", n, 1024)
	o := newOpener(t, dir, withFault(fault))
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadOnly)
	s, err := w.Read(context.Background(), walimpls.ReadOption{ReadAheadBufferSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	next := drainInOrder(t, s, 0, func(read int64) {
		if read == 10 {
			fault.on.Store(true)
		}
	})
	if next >= int64(n) || !errors.Is(s.Error(), walimpls.ErrUnavailable) || !errors.Is(s.Error(), syscall.EIO) {
		t.Fatalf("scanner delivered %d of %d then ended with %v, want ErrUnavailable wrapping EIO", next, n, s.Error())
	}
}

// Closing the opener while a scanner has reads ahead running waits for
// them: a read on a closed Pebble would panic.
func TestCloseWithReadsAheadRunning(t *testing.T) {
	dir := t.TempDir()
	n := 8 * chunkMessages
	fillChannel(t, dir, "ch", n, 1024)
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			o := newOpener(t, dir)
			w := openWAL(t, o, "ch", 1, walimpls.ReadOnly)
			s, err := w.Read(context.Background(), walimpls.ReadOption{ReadAheadBufferSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			for range round * 1000 {
				<-s.Chan()
			}
			o.Close()
			<-s.Done()
			if !errors.Is(s.Error(), walimpls.ErrClosed) {
				t.Fatalf("scanner ended with %v, want ErrClosed", s.Error())
			}
		})
	}
}

// A scanner catching up over inline and value log records, its chunks read
// ahead, while appends go on, then tailing them: every message once, in
// order, byte-identical.
func TestReadAheadMixedRecordsWhileAppending(t *testing.T) {
	const before, during = 3 * chunkMessages, 2000
	// mixedPayload's large messages (every third) go to the value log.
	o := newOpener(t, t.TempDir(), WithSyncMode(SyncNone), WithValueLogThreshold(4<<10))
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendMixed := func(from, to int) error {
		for i := from; i < to; i++ {
			if _, err := w.Append(context.Background(), message.NewMutableMessage(mixedPayload(i), nil)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := appendMixed(0, before); err != nil {
		t.Fatal(err)
	}
	s, err := w.Read(context.Background(), walimpls.ReadOption{ReadAheadBufferSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appended := make(chan error, 1)
	go func() { appended <- appendMixed(before, before+during) }()
	for i := range before + during {
		m, ok := <-s.Chan()
		if !ok {
			t.Fatalf("scanner ended at %d: %v", i, s.Error())
		}
		if got := m.MessageID().(helper.Int64ID).Value(); got != int64(i) {
			t.Fatalf("message %d has sequence %d", i, got)
		}
		if !bytes.Equal(m.Payload(), mixedPayload(i)) {
			t.Fatalf("sequence %d: payload of %d bytes differs from the %d appended", i, len(m.Payload()), len(mixedPayload(i)))
		}
	}
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
}
