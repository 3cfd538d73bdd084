package memory

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

// TestReadOnlyOpenOfMissingChannel: a ReadOnly open of a channel the Store
// never had is ErrNotFound naming it and creates nothing (it created the
// channel: walctl stat or scan of a typo left it behind, listed from then
// on); a channel opened ReadWrite exists, records or not, and opens
// ReadOnly through another opener of the Store.
func TestReadOnlyOpenOfMissingChannel(t *testing.T) {
	ctx := context.Background()
	store := NewStore()
	o, _ := NewBuilder(WithStore(store)).Build()
	defer o.Close()
	_, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "typo", AccessMode: walimpls.ReadOnly}})
	if !errors.Is(err, walimpls.ErrNotFound) || !strings.Contains(err.Error(), `"typo"`) {
		t.Fatalf("ReadOnly open of a missing channel = %v, want ErrNotFound naming it", err)
	}
	if names, err := o.(walimpls.ChannelLister).ListChannels(ctx); err != nil || len(names) != 0 {
		t.Fatalf("after the refused open the store lists %v, %v", names, err)
	}
	openTerm(t, o, 1, walimpls.ReadWrite).Close()
	other, _ := NewBuilder(WithStore(store)).Build()
	defer other.Close()
	ro := openTerm(t, other, 0, walimpls.ReadOnly)
	if latest, err := ro.(walimpls.LatestIDReader).LatestID(ctx); err != nil || latest != nil {
		t.Fatalf("ReadOnly WAL of a channel without records: LatestID %v, %v", latest, err)
	}
}

// TestStat: Stat counts the retained records and their payload and
// property bytes, follows Truncate, reports the highest ReadWrite term and
// whether a WAL of it is open on any opener of the Store; ListChannels
// names the channels opened ReadWrite, sorted; both fail once closed.
func TestStat(t *testing.T) {
	ctx := context.Background()
	store := NewStore()
	o, _ := NewBuilder(WithStore(store)).Build()
	defer o.Close()
	stat := func(w walimpls.WALImpls) walimpls.ChannelStat {
		t.Helper()
		st, err := w.(walimpls.StatReader).Stat(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	w2 := openTerm(t, o, 2, walimpls.ReadWrite)
	if st := stat(w2); st.Channel != "c" || st.First != nil || st.Last != nil || st.Messages != 0 || st.Bytes != 0 || st.Term != 2 || st.Writer != walimpls.WriterHeld {
		t.Fatalf("Stat of a fresh channel: %+v", st)
	}
	for _, p := range []string{"a", "bb", "ccc"} {
		if _, err := w2.Append(ctx, message.NewMutableMessage([]byte(p), message.Properties{"k": "vv"})); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := NewBuilder(WithStore(store)).Build()
	defer other.Close()
	ro := openTerm(t, other, 0, walimpls.ReadOnly)
	want := walimpls.ChannelStat{Channel: "c", First: helper.NewInt64ID(Name, 0), Last: helper.NewInt64ID(Name, 2), Messages: 3, Bytes: 6 + 3*3, Term: 2, Writer: walimpls.WriterHeld}
	if st := stat(ro); !sameStat(st, want) {
		t.Fatalf("Stat after three appends, through another opener: %+v, want %+v", st, want)
	}
	w1 := openTerm(t, o, 1, walimpls.ReadWrite) // a lower term: neither the term nor the writer
	w2.Close()
	if st := stat(ro); st.Term != 2 || st.Writer != walimpls.WriterNone {
		t.Fatalf("Stat after term 2's only WAL closed, term 1's open: term %d, writer %v", st.Term, st.Writer)
	}
	if err := w1.Truncate(ctx, helper.NewInt64ID(Name, 1)); err != nil {
		t.Fatal(err)
	}
	want = walimpls.ChannelStat{Channel: "c", First: helper.NewInt64ID(Name, 2), Last: helper.NewInt64ID(Name, 2), Messages: 1, Bytes: 3 + 3, Term: 2, Writer: walimpls.WriterNone}
	if st := stat(ro); !sameStat(st, want) {
		t.Fatalf("Stat after Truncate: %+v, want %+v", st, want)
	}
	w1.Close()
	openTerm(t, o, 0, walimpls.ReadWrite).Close()
	w := openWAL(t, o, "a", walimpls.ReadWrite)
	if names, err := other.(walimpls.ChannelLister).ListChannels(ctx); err != nil || !slices.Equal(names, []string{"a", "c"}) {
		t.Fatalf("ListChannels = %v, %v; want [a c]", names, err)
	}
	w.Close()
	if _, err := w.(walimpls.StatReader).Stat(ctx); !errors.Is(err, walimpls.ErrClosed) {
		t.Fatalf("Stat after Close: %v, want ErrClosed", err)
	}
	other.Close()
	if _, err := other.(walimpls.ChannelLister).ListChannels(ctx); !errors.Is(err, walimpls.ErrClosed) {
		t.Fatalf("ListChannels after the opener closed: %v, want ErrClosed", err)
	}
}

func openWAL(t *testing.T, o walimpls.OpenerImpls, name string, mode walimpls.AccessMode) walimpls.WALImpls {
	t.Helper()
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: name, AccessMode: mode}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func sameStat(a, b walimpls.ChannelStat) bool {
	sameID := func(x, y message.MessageID) bool { return (x == nil) == (y == nil) && (x == nil || x.EQ(y)) }
	return a.Channel == b.Channel && sameID(a.First, b.First) && sameID(a.Last, b.Last) && a.Messages == b.Messages &&
		a.Bytes == b.Bytes && a.Term == b.Term && a.Writer == b.Writer && a.BackendName == b.BackendName
}
