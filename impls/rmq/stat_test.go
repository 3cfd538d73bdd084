package rmq

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

func statOf(t *testing.T, w walimpls.ROWALImpls) walimpls.ChannelStat {
	t.Helper()
	st, err := w.(walimpls.StatReader).Stat(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func seqID(seq int64) message.MessageID { return helper.NewInt64ID(Name, seq) }

// TestStatBytes: Bytes counts the value log at once and Pebble's tables
// once flushed (a reopen flushed them), within a little of what was
// written; unflushed inline messages alone are Unknown; a channel
// truncated to nothing is empty.
func TestStatBytes(t *testing.T) {
	const n, size = 1000, 1 << 10
	payload := strings.Repeat("p", size)
	for _, run := range []struct {
		name      string
		threshold int
	}{{"inline", 0}, {"vlog", 1}} {
		t.Run(run.name, func(t *testing.T) {
			dir := t.TempDir()
			o := newOpener(t, dir, WithValueLogThreshold(run.threshold))
			w := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
			for range n {
				if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte(payload), nil)); err != nil {
					t.Fatal(err)
				}
			}
			st := statOf(t, w)
			if !seqID(0).EQ(st.First) || !seqID(n-1).EQ(st.Last) || st.Messages != n {
				t.Fatalf("after %d appends: %+v", n, st)
			}
			if run.threshold == 1 && st.Bytes < n*size {
				t.Errorf("value log of %d bytes: Bytes %d", n*size, st.Bytes)
			}
			if run.threshold != 1 && st.Bytes != walimpls.Unknown {
				t.Errorf("nothing flushed yet: Bytes %d, want Unknown", st.Bytes)
			}
			o.Close()

			o = newOpener(t, dir, WithValueLogThreshold(run.threshold))
			defer o.Close()
			w = openWAL(t, o, "ch", 1, walimpls.ReadWrite)
			st = statOf(t, w)
			t.Logf("%d messages of %d bytes: Bytes %d", n, size, st.Bytes)
			if st.Bytes < n*size || st.Bytes > 2*n*size {
				t.Errorf("%d messages of %d bytes after a reopen: Bytes %d, want %d..%d", n, size, st.Bytes, n*size, 2*n*size)
			}

			if err := w.Truncate(context.Background(), seqID(n-1)); err != nil {
				t.Fatal(err)
			}
			st = statOf(t, w)
			if st.First != nil || st.Last != nil || st.Messages != 0 || st.Bytes != 0 {
				t.Errorf("truncated to nothing: %+v", st)
			}
		})
	}
}

// TestStatWriterAndTerm: Writer is held only while a ReadWrite WAL of the
// highest term is open (a fenced one does not count), and a read-only
// opener of another process's directory reads the same range and term.
func TestStatWriterAndTerm(t *testing.T) {
	dir := t.TempDir()
	o := newOpener(t, dir)
	w1 := openWAL(t, o, "ch", 1, walimpls.ReadWrite)
	appendN(t, w1, 2, "a")
	ro := openWAL(t, o, "ch", 0, walimpls.ReadOnly)
	if st := statOf(t, ro); st.Term != 1 || st.Writer != walimpls.WriterHeld || !strings.Contains(st.BackendName, "channel id 00000000") {
		t.Errorf("term 1 open: %+v", st)
	}
	w2 := openWAL(t, o, "ch", 2, walimpls.ReadWrite)
	if st := statOf(t, ro); st.Term != 2 || st.Writer != walimpls.WriterHeld {
		t.Errorf("term 2 open: %+v", st)
	}
	w2.Close()
	if st := statOf(t, ro); st.Term != 2 || st.Writer != walimpls.WriterNone {
		t.Errorf("term 2 closed, fenced term 1 still open: %+v, want Writer none", st)
	}
	w1.Close()
	o.Close()

	o = newOpener(t, dir, WithReadOnly())
	defer o.Close()
	st := statOf(t, openWAL(t, o, "ch", 0, walimpls.ReadOnly))
	if st.Term != 2 || st.Writer != walimpls.WriterNone || st.Messages != 2 || !seqID(1).EQ(st.Last) {
		t.Errorf("read-only opener: %+v", st)
	}
}

// TestListChannels: every channel opened for writing, in name order, and
// ctx is honoured.
func TestListChannels(t *testing.T) {
	o := newOpener(t, t.TempDir())
	defer o.Close()
	l := o.(walimpls.ChannelLister)
	if names, err := l.ListChannels(context.Background()); err != nil || len(names) != 0 {
		t.Fatalf("empty store: %v, %v", names, err)
	}
	for _, name := range []string{"orders", "a", "z-9", "b.c"} {
		openWAL(t, o, name, 1, walimpls.ReadWrite)
	}
	names, err := l.ListChannels(context.Background())
	if err != nil || !slices.Equal(names, []string{"a", "b.c", "orders", "z-9"}) {
		t.Fatalf("ListChannels = %v, %v", names, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.ListChannels(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ListChannels with a cancelled context: %v", err)
	}
	w := openWAL(t, o, "a", 0, walimpls.ReadOnly)
	if _, err := w.(walimpls.StatReader).Stat(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a cancelled context: %v", err)
	}
}
