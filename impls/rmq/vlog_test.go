package rmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// withSegmentBytes makes value log segments small, so tests roll them.
func withSegmentBytes(n int64) Option { return optionFunc(func(b *Builder) { b.segBytes = n }) }

// vlogOpts: records of 1 KiB and more go to the value log, 16 KiB segments.
func vlogOpts(dir string, more ...Option) []Option {
	return append([]Option{WithPath(dir), WithValueLogThreshold(1 << 10), withSegmentBytes(16 << 10)}, more...)
}

func newVlogOpener(t testing.TB, dir string, more ...Option) walimpls.OpenerImpls {
	t.Helper()
	o, err := NewBuilder(vlogOpts(dir, more...)...).Build()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func channelOf(o walimpls.OpenerImpls, name string) *channelState {
	s := o.(*opener).store
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[name]
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, vlogDirName, "*", "*"+vlogSuffix))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// mixedPayload is message i of a mixed channel: every third one is large.
func mixedPayload(i int) []byte {
	size := 100
	if i%3 == 0 {
		size = 4<<10 + i
	}
	p := bytes.Repeat([]byte{byte(i)}, size)
	copy(p, fmt.Sprintf("m%d.", i))
	return p
}

func appendMixed(t testing.TB, w walimpls.WALImpls, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		id, err := w.Append(context.Background(), message.NewMutableMessage(mixedPayload(i), message.Properties{"i": fmt.Sprint(i)}))
		if err != nil {
			t.Fatal(err)
		}
		if got := id.(helper.Int64ID).Value(); got != int64(i) {
			t.Fatalf("append %d got sequence %d", i, got)
		}
	}
}

// checkMixed reads messages [from, to) and checks each byte for byte.
func checkMixed(t testing.TB, w walimpls.ROWALImpls, from, to int) {
	t.Helper()
	p := walimpls.DeliverAll()
	if from > 0 {
		p = walimpls.StartFrom(helper.NewInt64ID(Name, int64(from)))
	}
	for k, m := range readN(t, w, p, to-from) {
		i := from + k
		if m.MessageID().(helper.Int64ID).Value() != int64(i) || !bytes.Equal(m.Payload(), mixedPayload(i)) || m.Properties()["i"] != fmt.Sprint(i) {
			t.Fatalf("message %d: id %v, %d bytes %q..., props %v", i, m.MessageID(), len(m.Payload()), m.Payload()[:min(8, len(m.Payload()))], m.Properties())
		}
	}
}

// nextSeq appends a probe and returns its sequence: the channel's length.
func nextSeq(t testing.TB, w walimpls.WALImpls, large bool) int64 {
	t.Helper()
	p := []byte("probe")
	if large {
		p = bytes.Repeat(p, 1000)
	}
	id, err := w.Append(context.Background(), message.NewMutableMessage(p, nil))
	if err != nil {
		t.Fatal(err)
	}
	return id.(helper.Int64ID).Value()
}

func TestVlogMixedRoundTrip(t *testing.T) {
	dir := t.TempDir()
	o := newVlogOpener(t, dir)
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendMixed(t, w, 0, 60)
	checkMixed(t, w, 0, 60)
	o.Close()
	if n := len(segmentFiles(t, dir)); n < 3 {
		t.Fatalf("%d segments for 20 records of 4 KiB in 16 KiB segments, want several", n)
	}
	o = newVlogOpener(t, dir)
	defer o.Close()
	w = openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	checkMixed(t, w, 0, 60)
	appendMixed(t, w, 60, 70)
	checkMixed(t, w, 50, 70)
}

// Inline values written without a value log read back after it is on.
func TestVlogReadsOldInlineValues(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir, WithValueLogThreshold(0))
	appendMixed(t, openWAL(t, o, "ch", 1, walimpls.ReadWrite), 0, 10)
	o.Close()
	if files := segmentFiles(t, dir); len(files) != 0 {
		t.Fatalf("threshold 0 wrote segments %v", files)
	}
	o = newVlogOpener(t, dir)
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendMixed(t, w, 10, 20)
	checkMixed(t, w, 0, 20)
}

// A crash can lose the newest pointers (they are not synced with the
// record); reopening puts each back exactly once.
func TestVlogLostPointersRebuilt(t *testing.T) {
	dir := t.TempDir()
	o := newVlogOpener(t, dir)
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendMixed(t, w, 0, 10) // 9 is large
	c := channelOf(o, "ch")
	// A crash can lose only the newest pointers: lose 9's.
	db := o.(*opener).store.db
	if err := db.DeleteRange(dataKey(c.id, 9), dataKey(c.id, 10), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	o.Close()
	for round := range 2 {
		o = newVlogOpener(t, dir)
		w = openWAL(t, o, "ch", 1, walimpls.ReadWrite)
		checkMixed(t, w, 0, 10)
		if got := nextSeq(t, w, round == 0); got != int64(10+round) {
			t.Fatalf("round %d: next sequence %d, want %d: a pointer was rebuilt twice or not at all", round, got, 10+round)
		}
		o.Close()
	}
}

// writeSegmentTail appends raw bytes to the newest segment.
func writeSegmentTail(t *testing.T, dir string, b []byte) {
	t.Helper()
	files := segmentFiles(t, dir)
	f, err := os.OpenFile(files[len(files)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// A torn or garbled tail is cut off: the channel ends before it and new
// records never follow the garbage.
func TestVlogTornTail(t *testing.T) {
	body := message.EncodeRecord(nil, bytes.Repeat([]byte("t"), 2000), nil)
	for name, tail := range map[string]func(id uint32) []byte{
		"half record":        func(id uint32) []byte { r := vlogRecord(id, 4, body); return r[:len(r)/2] },
		"half header":        func(id uint32) []byte { return vlogRecord(id, 4, body)[:10] },
		"zeros":              func(uint32) []byte { return make([]byte, 5000) },
		"bad crc":            func(id uint32) []byte { r := vlogRecord(id, 4, body); r[len(r)-1]++; return r },
		"other channel":      func(id uint32) []byte { return vlogRecord(id+1, 4, body) },
		"record after a gap": func(id uint32) []byte { return vlogRecord(id, 5, body) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			o := newVlogOpener(t, dir)
			w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
			appendMixed(t, w, 0, 4) // 0 and 3 large: 3 is the newest record
			id := channelOf(o, "ch").id
			o.Close()
			writeSegmentTail(t, dir, tail(id))
			for round := range 2 {
				o = newVlogOpener(t, dir)
				w = openWAL(t, o, "ch", 1, walimpls.ReadWrite)
				checkMixed(t, w, 0, 4)
				seq := nextSeq(t, w, true)
				if seq != int64(4+round) {
					t.Fatalf("round %d: next sequence %d, want %d", round, seq, 4+round)
				}
				// Lose the new record's pointer: the next open finds the
				// record only if it did not go after the garbage.
				if err := o.(*opener).store.db.DeleteRange(dataKey(id, uint64(seq)), dataKey(id, uint64(seq)+1), pebble.NoSync); err != nil {
					t.Fatal(err)
				}
				o.Close()
			}
		})
	}
}

// A pointer whose record is damaged or gone gives a scanner error, never a
// skipped message.
func TestVlogDamagedRecord(t *testing.T) {
	for name, damage := range map[string]func(t *testing.T, seg string){
		"flipped byte": func(t *testing.T, seg string) {
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-100]++
			if err := os.WriteFile(seg, b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"segment gone": func(t *testing.T, seg string) {
			if err := os.Remove(seg); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			o := newVlogOpener(t, dir, withSegmentBytes(1))
			w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
			appendMixed(t, w, 0, 7) // large: 0, 3, 6, one per segment
			o.Close()
			damage(t, segmentFiles(t, dir)[1]) // sequence 3
			o = newVlogOpener(t, dir)
			defer o.Close()
			w = openWAL(t, o, "ch", 1, walimpls.ReadOnly)
			s, err := w.Read(context.Background(), walimpls.ReadOption{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			n := 0
			for range s.Chan() {
				n++
			}
			if err := s.Error(); n != 0 || err == nil || errors.Is(err, walimpls.ErrOutOfRange) || !strings.Contains(err.Error(), "damaged") {
				t.Fatalf("delivered %d then %v, want 0 (the chunk fails) and a damage error", n, err)
			}
		})
	}
}

// Segments whose records are all truncated are deleted in the background;
// the one being written too, once everything is truncated.
func TestVlogSegmentsDeletedAfterTruncate(t *testing.T) {
	dir := t.TempDir()
	o := newVlogOpener(t, dir)
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendMixed(t, w, 0, 90) // 30 large of ~4 KiB, 4 per segment
	before := segmentFiles(t, dir)
	if len(before) < 7 {
		t.Fatalf("%d segments, want at least 7", len(before))
	}
	bytesBefore := dirBytes(t, filepath.Join(dir, vlogDirName))
	if err := w.Truncate(context.Background(), helper.NewInt64ID(Name, 44)); err != nil {
		t.Fatal(err)
	}
	// Dead: every segment whose successor starts at or below 45.
	var live []string
	for i, f := range before {
		if i+1 == len(before) || segFirst(t, before[i+1]) > 45 {
			live = append(live, f)
		}
	}
	waitSegments(t, dir, live)
	if after := dirBytes(t, filepath.Join(dir, vlogDirName)); after >= bytesBefore {
		t.Fatalf("value log %d bytes after truncate, %d before", after, bytesBefore)
	}
	checkMixed(t, w, 45, 90)

	if err := w.Truncate(context.Background(), helper.NewInt64ID(Name, 89)); err != nil {
		t.Fatal(err)
	}
	waitSegments(t, dir, nil)
	o.Close()
	o = newVlogOpener(t, dir)
	defer o.Close()
	w = openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendMixed(t, w, 90, 100)
	checkMixed(t, w, 90, 100)
}

func segFirst(t *testing.T, path string) uint64 {
	var first uint64
	if _, err := fmt.Sscanf(filepath.Base(path), "%016x.vlog", &first); err != nil {
		t.Fatal(err)
	}
	return first
}

// waitSegments polls until exactly want are left (deletion is background).
func waitSegments(t *testing.T, dir string, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := segmentFiles(t, dir)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("segments %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond) // polling the directory with a deadline
	}
}

// Small and large appends racing on one channel keep their order and
// contents; a large one waits for the smaller ones before it to be durable.
func TestVlogConcurrentMixedAppends(t *testing.T) {
	dir := t.TempDir()
	o := newVlogOpener(t, dir)
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	var mu sync.Mutex
	byID := map[int64][]byte{}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 30 {
				p := mixedPayload(g*1000 + i)
				id, err := w.Append(context.Background(), message.NewMutableMessage(p, nil))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				byID[id.(helper.Int64ID).Value()] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	o.Close()
	o = newVlogOpener(t, dir)
	defer o.Close()
	w = openWAL(t, o, "ch", 1, walimpls.ReadOnly)
	for i, m := range readN(t, w, walimpls.DeliverAll(), len(byID)) {
		if m.MessageID().(helper.Int64ID).Value() != int64(i) || !bytes.Equal(m.Payload(), byID[int64(i)]) {
			t.Fatalf("message %d: %v, %d bytes", i, m.MessageID(), len(m.Payload()))
		}
	}
}

// Closing the store closes every value log handle.
func TestVlogCloseReleasesHandles(t *testing.T) {
	o := newVlogOpener(t, t.TempDir())
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendMixed(t, w, 0, 10)
	checkMixed(t, w, 0, 10)
	v := channelOf(o, "ch").vlog
	if v.active == nil || len(v.readers) == 0 {
		t.Fatal("no handles open after writing and reading")
	}
	o.Close()
	if v.active != nil || len(v.readers) != 0 {
		t.Fatalf("after close: active %v, %d readers", v.active, len(v.readers))
	}
	if _, err := v.read(0, vlogPointer{}, nil); err == nil {
		t.Fatal("read after close succeeded")
	}
}
