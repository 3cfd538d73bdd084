package rmq

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// journalFiles lists dir's journal segments, oldest first.
func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, journalDirName, "*"+journalSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkN reads channel ch through o: messages tag-0 ... tag-(n-1).
func checkN(t *testing.T, o walimpls.OpenerImpls, ch, tag string, n int) {
	t.Helper()
	for i, m := range readN(t, openWAL(t, o, ch, 1, walimpls.ReadOnly), walimpls.DeliverAll(), n) {
		if want := fmt.Sprintf("%s-%d", tag, i); string(m.Payload()) != want {
			t.Fatalf("channel %s message %d = %q, want %q", ch, i, m.Payload(), want)
		}
	}
}

// appendFrom appends to w, expecting sequences from ... to-1.
func appendFrom(t *testing.T, w walimpls.WALImpls, from, to int64) {
	t.Helper()
	for i := from; i < to; i++ {
		if got := nextSeq(t, w, true); got != i {
			t.Fatalf("next sequence %d, want %d", got, i)
		}
	}
}

// TestJournalReplay: appends of several channels that only the journal
// holds (a crash image: Pebble never flushed them) come back after a
// reopen, for writing and read-only, and sequences go on after them.
func TestJournalReplay(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir, WithValueLogThreshold(0))
	for _, ch := range []string{"a", "b"} {
		appendN(t, openWAL(t, o, ch, 1, walimpls.ReadWrite), 30, ch)
	}
	img := crashImage(t, dir)
	o.Close()
	if len(journalFiles(t, img)) == 0 {
		t.Fatal("the crash image holds no journal")
	}
	if files := journalFiles(t, dir); len(files) != 0 {
		t.Errorf("a clean close left journal segments %v", files)
	}

	ro := newOpener(t, img, WithReadOnly())
	for _, ch := range []string{"a", "b"} {
		checkN(t, ro, ch, ch, 30)
	}
	ro.Close()
	o = newOpener(t, img)
	w := openWAL(t, o, "a", 1, walimpls.ReadWrite)
	if got := nextSeq(t, w, true); got != 30 {
		t.Fatalf("next sequence after replay %d, want 30", got)
	}
	checkN(t, o, "b", "b", 30)
	o.Close()
}

// TestJournalTornTail: garbage after the last frame (a torn write) ends
// replay there; the next writes go to a new segment, so after another
// crash they are replayed too, not lost behind the garbage.
func TestJournalTornTail(t *testing.T) {
	for name, tail := range map[string][]byte{
		"zeros":   make([]byte, 100),
		"garbage": []byte(strings.Repeat("\xffgarbage", 20)),
		"torn":    appendJournalFrame(nil, 1<<40, make([]byte, 200))[:100],
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			o := newOpener(t, dir)
			appendN(t, openWAL(t, o, "ch", 1, walimpls.ReadWrite), 10, "m")
			img := crashImage(t, dir)
			o.Close()
			files := journalFiles(t, img)
			last := files[len(files)-1]
			st, err := os.Stat(last)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tail); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()

			o = newOpener(t, img)
			w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
			checkN(t, o, "ch", "m", 10)
			appendFrom(t, w, 10, 20)
			img2 := crashImage(t, img)
			if after, err := os.Stat(last); err != nil || after.Size() != st.Size()+int64(len(tail)) {
				t.Fatalf("the segment with the torn tail was written again: %v", err)
			}
			o.Close()
			o = newOpener(t, img2)
			defer o.Close()
			got := readN(t, openWAL(t, o, "ch", 1, walimpls.ReadOnly), walimpls.DeliverAll(), 20)
			if len(got) != 20 {
				t.Fatalf("read %d, want 20", len(got))
			}
		})
	}
}

// TestJournalSegmentsCollected: a journal written far past
// journalKeepSegments segments is cut back to a few within a reclaimer
// round: the reclaimer flushes Pebble and deletes what the flush covers.
func TestJournalSegmentsCollected(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir, withSegmentBytes(64<<10), WithValueLogThreshold(0))
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	p := string(make([]byte, 4<<10))
	for i := range 400 { // ~1.6 MiB: 25 segments
		if _, err := appendWithin(t, w, p, 30*time.Second); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(journalFiles(t, dir)) > journalKeepSegments+1 {
		if time.Now().After(deadline) {
			t.Fatalf("the journal keeps %d segments", len(journalFiles(t, dir)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkN(t, o, "ch", "", 0)
	if got := readN(t, openWAL(t, o, "ch", 1, walimpls.ReadOnly), walimpls.DeliverAll(), 400); len(got) != 400 {
		t.Fatalf("read %d, want 400", len(got))
	}
}

// TestOldDirectoryWithUnflushedLogOpens: a directory as releases before
// the journal left it after a crash, every message only in Pebble's own
// log (never flushed), opens with every message (Pebble replays and
// flushes its log at Open even with its log now disabled), read-only
// too, and takes new appends that survive a crash.
func TestOldDirectoryWithUnflushedLogOpens(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{}) // Pebble's log on, as the old path had it
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.Set(channelKey("ch"), binaryUint32(0), nil))
	must(b.Set(metaKey(0, metaTerm), encodeUint64(1), nil))
	for i := range 20 {
		must(b.Set(dataKey(0, uint64(i)), message.EncodeRecord(nil, fmt.Appendf(nil, "m-%d", i), nil), nil))
	}
	must(db.Apply(b, pebble.Sync))
	must(db.Close()) // no flush: it is all in Pebble's log
	if ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst")); len(ssts) != 0 {
		t.Fatalf("the old directory has sstables %v: not a log-only directory", ssts)
	}
	ro := newOpener(t, dir, WithReadOnly())
	checkN(t, ro, "ch", "m", 20)
	ro.Close()
	o := newOpener(t, dir)
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	checkN(t, o, "ch", "m", 20)
	appendFrom(t, w, 20, 30)
	crashed := crashImage(t, dir)
	o.Close()
	o = newOpener(t, crashed)
	if got := readN(t, openWAL(t, o, "ch", 1, walimpls.ReadOnly), walimpls.DeliverAll(), 30); len(got) != 30 {
		t.Fatalf("read %d after the crash, want 30", len(got))
	}
	o.Close()
}

// TestUnknownFormatRefused: a directory of a newer format is not opened,
// for writing or reading, with ErrUnknownFormat naming the format.
func TestUnknownFormatRefused(t *testing.T) {
	dir := t.TempDir()
	newOpener(t, dir).Close()
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(formatKey, encodeUint64(formatJournal+1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]Option{nil, {WithReadOnly()}} {
		_, err := NewBuilder(append([]Option{WithPath(dir)}, opts...)...).Build()
		if !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), fmt.Sprint("format ", formatJournal+1)) {
			t.Fatalf("open of a format %d directory: %v, want ErrUnknownFormat naming it", formatJournal+1, err)
		}
	}
}

// FuzzJournalFrame: any bytes parse as a frame or not without panicking,
// and a frame that checks out is one appendJournalFrame made.
func FuzzJournalFrame(f *testing.F) {
	f.Add(appendJournalFrame(nil, 7, []byte("batch")))
	f.Add(make([]byte, journalFrameHeaderLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parseJournalFrameHeader(b)
		if !ok || uint64(len(b)) < journalFrameHeaderLen+uint64(h.length) {
			return
		}
		body := b[journalFrameHeaderLen : journalFrameHeaderLen+int(h.length)]
		if h.check(body) && string(appendJournalFrame(nil, h.seq, body)) != string(b[:journalFrameHeaderLen+len(body)]) {
			t.Fatalf("frame %x checks out but is not what appendJournalFrame makes", b)
		}
	})
}

// TestReadOnlyOverlayConcurrentReads: a read-only store whose journal
// tail holds a truncation (a range deletion in the overlay) serves
// concurrent scanners; each sees the truncation.
func TestReadOnlyOverlayConcurrentReads(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir, WithValueLogThreshold(0))
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	ids := appendN(t, w, 20, "m")
	if err := w.Truncate(context.Background(), ids[9]); err != nil {
		t.Fatal(err)
	}
	appendN(t, w, 1, "after") // synced: the truncation is durable with it
	img := crashImage(t, dir)
	o.Close()

	ro := newOpener(t, img, WithReadOnly())
	defer ro.Close()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			r := openWAL(t, ro, "ch", 1, walimpls.ReadOnly)
			defer r.Close()
			got := readN(t, r, walimpls.DeliverAll(), 11)
			if first := got[0].MessageID().(helper.Int64ID).Value(); first != 10 {
				t.Errorf("first message %d after the truncation, want 10", first)
			}
		})
	}
	wg.Wait()
}

// TestJournalGroupOfManyFrames: a group larger than journalFrameTarget is
// written as several frames; after a crash every acknowledged append of
// every channel is replayed, in order.
func TestJournalGroupOfManyFrames(t *testing.T) {
	defer func(n int) { journalFrameTarget = n }(journalFrameTarget)
	journalFrameTarget = 4 << 10
	dir := t.TempDir()
	o := newOpener(t, dir, WithValueLogThreshold(0))
	const per = 50
	var wg sync.WaitGroup
	for g := range 8 {
		ch := fmt.Sprint("ch", g%2)
		w := openWAL(t, o, ch, 1, walimpls.ReadWrite)
		wg.Go(func() {
			for i := range per {
				p := fmt.Sprintf("%d-%d-%s", g, i, strings.Repeat("x", 1000))
				if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte(p), nil)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	j := o.(*opener).store.jnl
	if j.mostFrames < 2 || j.nextSeq >= 8*per {
		t.Errorf("%d frames for %d appends, at most %d per group: no group was split, or no frame held two appends", j.nextSeq, 8*per, j.mostFrames)
	}
	img := crashImage(t, dir)
	o.Close()
	o = newOpener(t, img)
	defer o.Close()
	for c := range 2 {
		next := map[string]int{}
		for _, m := range readN(t, openWAL(t, o, fmt.Sprint("ch", c), 1, walimpls.ReadOnly), walimpls.DeliverAll(), 4*per) {
			f := strings.SplitN(string(m.Payload()), "-", 3)
			i, _ := strconv.Atoi(f[1])
			if i != next[f[0]] {
				t.Fatalf("channel %d: appender %s's message %d where %d was due", c, f[0], i, next[f[0]])
			}
			next[f[0]]++
		}
	}
}
