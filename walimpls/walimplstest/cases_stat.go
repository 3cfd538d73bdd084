package walimplstest

import (
	"slices"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// testStat checks walimpls.StatReader where a driver implements it, and
// walimpls.ChannelLister where its opener does: the retained range follows
// appends and truncation, counts only grow with appends and shrink with a
// physical truncate, another client sees the same, the term and writer are
// right where the driver knows them, and the lister names the channel.
func testStat(r R, h Harness) {
	e := newEnv(r, h)
	ch := e.channel("stat")
	w := e.openOn(e.opener, ch, 2, walimpls.ReadWrite)
	sr, ok := w.(walimpls.StatReader)
	if !ok {
		r.Skipf("driver does not implement walimpls.StatReader")
	}
	fresh := e.stat(sr, "a fresh channel")
	ids := e.appendN(w, "s", 3)
	if fresh.Last != nil && !fresh.Last.LT(ids[0]) {
		r.Errorf("Stat of a fresh channel: Last %v is not before the first append's %v", fresh.Last, ids[0])
	}
	st := e.stat(sr, "after three appends")
	e.checkStat("after three appends", st, ids[0], ids[2])
	if st.Messages != walimpls.Unknown && st.Messages < max(fresh.Messages, 0)+3 {
		r.Errorf("Stat after three appends: Messages %d, was %d before them", st.Messages, fresh.Messages)
	}
	if st.Term != walimpls.Unknown && st.Term != 2 {
		r.Errorf("Stat of a channel opened ReadWrite with term 2: Term %d", st.Term)
	}
	if st.Writer == walimpls.WriterNone {
		r.Errorf("Stat while term 2's WAL is open: Writer %v", st.Writer)
	}

	// Another client reads the same from the backend.
	ro := e.openOn(e.newOpener(), ch, 0, walimpls.ReadOnly)
	rs, ok := ro.(walimpls.StatReader)
	if !ok {
		r.Fatalf("a ReadWrite WAL implements StatReader, a ReadOnly one does not")
	}
	other := e.stat(rs, "through another opener")
	if !sameID(other.Last, st.Last) || !sameID(other.First, st.First) || other.Term != st.Term || other.Messages != st.Messages {
		r.Errorf("Stat through another opener = %+v, through the writer %+v", other, st)
	}

	if err := w.Truncate(e.ctx, ids[1]); err != nil {
		r.Fatalf("Truncate(%v): %v", ids[1], err)
	}
	tr := e.stat(sr, "after Truncate")
	e.checkStat("after Truncate", tr, ids[2], ids[2])
	if e.caps.PhysicalTruncate {
		if tr.First == nil || !ids[1].LT(tr.First) {
			r.Errorf("Stat after Truncate(%v) with PhysicalTruncate: First %v, want after it", ids[1], tr.First)
		}
		if tr.Messages != walimpls.Unknown && st.Messages != walimpls.Unknown && tr.Messages > st.Messages-2 {
			r.Errorf("Stat after truncating two of the messages: Messages %d, was %d", tr.Messages, st.Messages)
		}
	} else if tr.Messages != walimpls.Unknown && tr.Messages > st.Messages {
		r.Errorf("Stat after Truncate: Messages grew from %d to %d", st.Messages, tr.Messages)
	}

	e.within("WAL Close", w.Close)
	if closed := e.stat(rs, "after the writer closed"); closed.Writer == walimpls.WriterHeld {
		r.Errorf("Stat after the only writer closed: Writer %v", closed.Writer)
	}

	if l, ok := e.opener.(walimpls.ChannelLister); ok {
		names, err := l.ListChannels(e.ctx)
		switch {
		case err != nil:
			r.Errorf("ListChannels: %v", err)
		case !slices.Contains(names, ch):
			r.Errorf("ListChannels does not name %s, opened for writing: %v", ch, names)
		case slices.Contains(names, e.channel("never")):
			r.Errorf("ListChannels names %s, which was never opened", e.channel("never"))
		case !slices.IsSorted(names):
			r.Errorf("ListChannels is not sorted: %v", names)
		}
	}
}

func (e *env) stat(sr walimpls.StatReader, what string) walimpls.ChannelStat {
	e.r.Helper()
	st, err := sr.Stat(e.ctx)
	if err != nil {
		e.r.Fatalf("Stat %s: %v", what, err)
	}
	return st
}

// checkStat checks what every Stat of a channel holding oldest..newest
// says: its name, a retained range around them, sane counts.
func (e *env) checkStat(what string, st walimpls.ChannelStat, oldest, newest message.MessageID) {
	e.r.Helper()
	ch := e.channel("stat")
	switch {
	case st.Channel != ch:
		e.r.Errorf("Stat %s: Channel %q, want %q", what, st.Channel, ch)
	case st.Last == nil || st.Last.LT(newest):
		e.r.Errorf("Stat %s: Last %v, want %v (or a later record of the driver's own)", what, st.Last, newest)
	case st.First == nil || !st.First.LTE(oldest):
		e.r.Errorf("Stat %s: First %v, want %v or before", what, st.First, oldest)
	case st.Messages < walimpls.Unknown || st.Messages == 0:
		e.r.Errorf("Stat %s: Messages %d, want at least 1 or Unknown", what, st.Messages)
	case st.Bytes < walimpls.Unknown || st.Bytes == 0:
		e.r.Errorf("Stat %s: Bytes %d, want more than 0 or Unknown", what, st.Bytes)
	}
}
