package rmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
	"github.com/mqwal/mqwal/walimpls/registry"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

func newOpener(t testing.TB, dir string, opts ...Option) walimpls.OpenerImpls {
	t.Helper()
	o, err := NewBuilder(append([]Option{WithPath(dir)}, opts...)...).Build()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func openWAL(t testing.TB, o walimpls.OpenerImpls, name string, term int64, mode walimpls.AccessMode) walimpls.WALImpls {
	t.Helper()
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: name, Term: term, AccessMode: mode}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func appendN(t testing.TB, w walimpls.WALImpls, n int, tag string) []message.MessageID {
	t.Helper()
	ids := make([]message.MessageID, n)
	for i := range n {
		id, err := w.Append(context.Background(), message.NewMutableMessage([]byte(fmt.Sprintf("%s-%d", tag, i)), message.Properties{"i": fmt.Sprint(i)}))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

// readN reads exactly n messages from p.
func readN(t testing.TB, w walimpls.ROWALImpls, p walimpls.DeliverPolicy, n int) []message.ImmutableMessage {
	t.Helper()
	return walimplstest.ReadN(t, w, p, n, 0)
}

func seqs(ms []message.ImmutableMessage) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.MessageID().(helper.Int64ID).Value()
	}
	return out
}

func TestRegistered(t *testing.T) {
	b, err := registry.GetBuilder(Name)
	if err != nil || b.Name() != Name {
		t.Fatalf("GetBuilder(%q) = %v, %v", Name, b, err)
	}
	id, err := message.UnmarshalMessageID(Name, "42")
	if err != nil || id.(helper.Int64ID).Value() != 42 {
		t.Fatalf("UnmarshalMessageID = %v, %v", id, err)
	}
}

// The driver never reads the environment: MQWAL_RMQ_PATH is config's.
func TestPathIgnoresEnvironment(t *testing.T) {
	t.Setenv("MQWAL_RMQ_PATH", "/from/env")
	if got := NewBuilder().Path(); got != DefaultPath {
		t.Fatalf("no WithPath: got %q, want %q", got, DefaultPath)
	}
	if got := NewBuilder(WithPath("/explicit")).Path(); got != "/explicit" {
		t.Fatalf("explicit path: got %q", got)
	}
}

func TestBuildRejectsBadConfig(t *testing.T) {
	for name, b := range map[string]*Builder{
		"path":   NewBuilder(WithPath("")),
		"sync":   NewBuilder(WithPath(t.TempDir()), WithSyncMode(SyncMode(9))),
		"window": NewBuilder(WithPath(t.TempDir()), WithGroupCommitWindow(-time.Second)),
		"vlog":   NewBuilder(WithPath(t.TempDir()), WithValueLogThreshold(-1)),
	} {
		_, err := b.Build()
		if !errors.Is(err, walimpls.ErrInvalidArgument) {
			t.Errorf("%s: Build() = %v, want ErrInvalidArgument", name, err)
		}
		if name == "vlog" && !strings.Contains(fmt.Sprint(err), "WithValueLogThreshold") {
			t.Errorf("the error does not name the option: %v", err)
		}
	}
}

func TestParseSyncMode(t *testing.T) {
	for _, m := range []SyncMode{SyncAlways, SyncGroup, SyncNone} {
		if got, err := ParseSyncMode(m.String()); err != nil || got != m {
			t.Errorf("ParseSyncMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseSyncMode("fast"); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Errorf("ParseSyncMode(fast) = %v", err)
	}
}

func TestAppendReadReopen(t *testing.T) {
	for _, mode := range []SyncMode{SyncAlways, SyncGroup, SyncNone} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			o := newOpener(t, dir, WithSyncMode(mode))
			a := openWAL(t, o, "a", 1, walimpls.ReadWrite)
			b := openWAL(t, o, "b", 1, walimpls.ReadWrite)
			appendN(t, a, 10, "a")
			appendN(t, b, 3, "b")
			o.Close()

			o = newOpener(t, dir, WithSyncMode(mode))
			defer o.Close()
			a = openWAL(t, o, "a", 1, walimpls.ReadWrite)
			ids := appendN(t, a, 2, "a2")
			if got := ids[0].(helper.Int64ID).Value(); got != 10 {
				t.Fatalf("sequence after reopen = %d, want 10", got)
			}
			got := readN(t, a, walimpls.DeliverAll(), 12)
			for i, m := range got {
				want := fmt.Sprintf("a-%d", i)
				if i >= 10 {
					want = fmt.Sprintf("a2-%d", i-10)
				}
				if string(m.Payload()) != want || m.MessageID().(helper.Int64ID).Value() != int64(i) || m.Channel() != "a" {
					t.Fatalf("message %d = %s %q on %q", i, m.MessageID(), m.Payload(), m.Channel())
				}
			}
			rb := openWAL(t, o, "b", 0, walimpls.ReadOnly)
			if got := readN(t, rb, walimpls.DeliverAll(), 3); string(got[2].Payload()) != "b-2" || got[2].Properties()["i"] != "2" {
				t.Fatalf("channel b: %v", got)
			}
		})
	}
}

func TestFencing(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir)
	old := openWAL(t, o, "ch", 3, walimpls.ReadWrite)
	appendN(t, old, 1, "old")
	// A second opener of the directory in this process shares the state.
	o2 := newOpener(t, dir)
	newer := openWAL(t, o2, "ch", 4, walimpls.ReadWrite)
	if _, err := old.Append(context.Background(), message.NewMutableMessage([]byte("x"), nil)); !errors.Is(err, walimpls.ErrFenced) {
		t.Fatalf("append of the fenced writer = %v, want ErrFenced", err)
	}
	if err := old.Truncate(context.Background(), helper.NewInt64ID(Name, 0)); !errors.Is(err, walimpls.ErrFenced) {
		t.Fatalf("truncate of the fenced writer = %v, want ErrFenced", err)
	}
	appendN(t, newer, 1, "new")
	o.Close()
	o2.Close()

	o = newOpener(t, dir)
	defer o.Close()
	_, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "ch", Term: 3}})
	if !errors.Is(err, walimpls.ErrFenced) {
		t.Fatalf("open with a lower term after reopen = %v, want ErrFenced", err)
	}
	w := openWAL(t, o, "ch", 4, walimpls.ReadWrite)
	if got := seqs(readN(t, w, walimpls.DeliverAll(), 2)); got[0] != 0 || got[1] != 1 {
		t.Fatalf("sequences %v", got)
	}
}

func TestTruncate(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir)
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	ids := appendN(t, w, 10, "m")
	if err := w.Truncate(context.Background(), ids[3]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.StartFrom(ids[3])}); !errors.Is(err, walimpls.ErrOutOfRange) {
		t.Fatalf("read below retained = %v, want ErrOutOfRange", err)
	}
	if got := seqs(readN(t, w, walimpls.StartAfter(ids[3]), 6)); got[0] != 4 || got[5] != 9 {
		t.Fatalf("after truncate: %v", got)
	}
	if err := w.Truncate(context.Background(), helper.NewInt64ID(Name, 10)); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Fatalf("truncate beyond end = %v, want ErrInvalidArgument", err)
	}
	if err := w.Truncate(context.Background(), ids[1]); err != nil {
		t.Fatalf("truncate below first retained = %v, want nil", err)
	}
	o.Close()
	o = newOpener(t, dir)
	w = openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	if got := seqs(readN(t, w, walimpls.DeliverAll(), 6)); got[0] != 4 {
		t.Fatalf("after reopen: %v", got)
	}
	// Truncating everything keeps the sequence going.
	if err := w.Truncate(context.Background(), ids[9]); err != nil {
		t.Fatal(err)
	}
	o.Close()
	o = newOpener(t, dir)
	defer o.Close()
	w = openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	if id := appendN(t, w, 1, "n")[0]; id.(helper.Int64ID).Value() != 10 {
		t.Fatalf("sequence after truncating everything and reopening = %v, want 10", id)
	}
}

// A scanner that falls behind a truncation fails instead of skipping:
// what it read before the truncation (its chunk, the chunks it read ahead)
// comes in order, then ErrOutOfRange, never a jump.
func TestScannerOvertakenByTruncate(t *testing.T) {
	for _, c := range []struct {
		name          string
		n, truncateAt int
	}{
		// More than two chunks, so the scanner cannot hold them all.
		{"to the end", 2*chunkMessages + 10, 2*chunkMessages + 9},
		// Far enough behind to read ahead.
		{"below reads ahead", 8 * chunkMessages, 7 * chunkMessages},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := newOpener(t, t.TempDir(), WithSyncMode(SyncNone))
			defer o.Close()
			w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
			ids := appendN(t, w, c.n, "m")
			s, err := w.Read(context.Background(), walimpls.ReadOption{ReadAheadBufferSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			<-s.Chan()
			if err := w.Truncate(context.Background(), ids[c.truncateAt]); err != nil {
				t.Fatal(err)
			}
			next := drainInOrder(t, s, 1, nil)
			if next >= int64(c.n) || !errors.Is(s.Error(), walimpls.ErrOutOfRange) {
				t.Fatalf("scanner delivered up to %d of %d then ended with %v, want ErrOutOfRange", next, c.n, s.Error())
			}
		})
	}
}

// drainInOrder reads s until it ends, failing on a sequence that does not
// follow the one before (the first is from); each calls back with the
// number of messages read so far. It returns the sequence after the last.
func drainInOrder(t *testing.T, s walimpls.ScannerImpls, from int64, each func(read int64)) int64 {
	t.Helper()
	next := from
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				return next
			}
			if got := m.MessageID().(helper.Int64ID).Value(); got != next {
				t.Fatalf("after sequence %d came %d", next-1, got)
			}
			if next++; each != nil {
				each(next - from)
			}
		case <-timeout:
			t.Fatalf("scanner still running at sequence %d", next)
		}
	}
}

func TestTailAndConcurrentAppends(t *testing.T) {
	o := newOpener(t, t.TempDir())
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverLatest()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, per = 8, 50
	var wg sync.WaitGroup
	payloads := sync.Map{}
	for g := range writers {
		wg.Go(func() {
			for i := range per {
				p := []byte(fmt.Sprintf("%d/%d", g, i))
				id, err := w.Append(context.Background(), message.NewMutableMessage(p, nil))
				if err != nil {
					t.Error(err)
					return
				}
				payloads.Store(id.(helper.Int64ID).Value(), p)
			}
		})
	}
	wg.Wait()
	for want := int64(0); want < writers*per; want++ {
		select {
		case m := <-s.Chan():
			got := m.MessageID().(helper.Int64ID).Value()
			p, _ := payloads.Load(got)
			if got != want || !bytes.Equal(p.([]byte), m.Payload()) {
				t.Fatalf("message %d: got %d %q", want, got, m.Payload())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("tail stalled at %d", want)
		}
	}
}

func TestTooLargeAndClosed(t *testing.T) {
	o := newOpener(t, t.TempDir(), WithMaxMessageSize(10))
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	if _, err := w.Append(context.Background(), message.NewMutableMessage(make([]byte, 11), nil)); !errors.Is(err, walimpls.ErrMessageTooLarge) {
		t.Fatalf("oversize append = %v", err)
	}
	r := openWAL(t, o, "ch", 1, walimpls.ReadOnly)
	if _, err := r.Append(context.Background(), message.NewMutableMessage(nil, nil)); !errors.Is(err, walimpls.ErrReadOnly) {
		t.Fatalf("read-only append = %v", err)
	}
	o.Close()
	o.Close()
	if _, err := w.Append(context.Background(), message.NewMutableMessage(nil, nil)); !errors.Is(err, walimpls.ErrClosed) {
		t.Fatalf("append after close = %v", err)
	}
	if _, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "ch"}}); !errors.Is(err, walimpls.ErrClosed) {
		t.Fatalf("open after close = %v", err)
	}
}

// Building an opener while the last one of the directory closes waits for
// the close instead of tripping over Pebble's lock.
func TestCloseAndRebuildRace(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir)
	for i := range 10 {
		w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
		appendN(t, w, 1, fmt.Sprint(i))
		done := make(chan struct{})
		go func() { defer close(done); o.Close() }()
		next, err := NewBuilder(WithPath(dir)).Build()
		<-done
		if err != nil {
			t.Fatalf("round %d: build during close: %v", i, err)
		}
		o = next
	}
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadOnly)
	if got := seqs(readN(t, w, walimpls.DeliverAll(), 10)); got[9] != 9 {
		t.Fatalf("sequences %v", got)
	}
}

// A message near the limit is bigger than half a memtable, which Pebble
// commits as a "large batch" on its own path.
func TestLargeMessage(t *testing.T) {
	o := newOpener(t, t.TempDir())
	defer o.Close()
	w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	p := payloads(1, 40<<20)[0]
	id, err := w.Append(context.Background(), message.NewMutableMessage(p, message.Properties{"k": "v"}))
	if err != nil {
		t.Fatal(err)
	}
	small := appendN(t, w, 1, "after")[0]
	got := readN(t, w, walimpls.DeliverAll(), 2)
	if !got[0].MessageID().EQ(id) || !bytes.Equal(got[0].Payload(), p) || got[0].Properties()["k"] != "v" || !got[1].MessageID().EQ(small) {
		t.Fatalf("large message did not come back intact: %v %d bytes, then %v", got[0].MessageID(), len(got[0].Payload()), got[1].MessageID())
	}
}
