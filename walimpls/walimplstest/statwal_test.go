package walimplstest_test

import (
	"context"
	"slices"
	"testing"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// statState is what the self-test wrapper knows to answer Stat for one
// channel: the records it stored, in order, and the ReadWrite WALs open
// per term. Guarded by the channelState's mu.
type statState struct {
	log  []statRecord
	open map[int64]int
}

type statRecord struct {
	id   message.MessageID
	size int64
}

func (s *statState) stored(id message.MessageID, msg message.MutableMessage) {
	s.log = append(s.log, statRecord{id: id, size: int64(msg.EstimateSize())})
}

func (s *statState) opened(term int64) {
	if s.open == nil {
		s.open = map[int64]int{}
	}
	s.open[term]++
}

// Stat implements walimpls.StatReader from the wrapper's own records.
func (w *brokenWAL) Stat(ctx context.Context) (walimpls.ChannelStat, error) {
	if err := ctx.Err(); err != nil {
		return walimpls.ChannelStat{}, err
	}
	st := w.st
	st.mu.Lock()
	defer st.mu.Unlock()
	log := st.stats.log
	cs := walimpls.ChannelStat{Channel: w.channel.Name, BackendName: "memory/" + w.channel.Name, Messages: int64(len(log)),
		Term: walimpls.Unknown, Writer: walimpls.WriterNone}
	for _, r := range log {
		cs.Bytes += r.size
	}
	if len(log) > 0 {
		cs.First, cs.Last = log[0].id, log[len(log)-1].id
		if w.o.be.b == statStale && len(log) > 1 {
			cs.Last = log[len(log)-2].id
		}
	}
	if st.high >= 0 {
		cs.Term = st.high
		if st.stats.open[st.high] > 0 {
			cs.Writer = walimpls.WriterHeld
		}
	}
	return cs, nil
}

// Truncate drops the truncated records from the wrapper's own as well.
func (w *brokenWAL) Truncate(ctx context.Context, id message.MessageID) error {
	if err := w.WALImpls.Truncate(ctx, id); err != nil {
		return err
	}
	w.st.mu.Lock()
	defer w.st.mu.Unlock()
	log := w.st.stats.log
	i := 0
	for i < len(log) && log[i].id.LTE(id) {
		i++
	}
	w.st.stats.log = log[i:]
	return nil
}

// Close counts a writer less.
func (w *brokenWAL) Close() {
	w.WALImpls.Close()
	if w.channel.AccessMode != walimpls.ReadWrite {
		return
	}
	w.closeOnce.Do(func() {
		w.st.mu.Lock()
		w.st.stats.open[w.channel.Term]--
		w.st.mu.Unlock()
	})
}

// ListChannels implements walimpls.ChannelLister: every channel opened
// ReadWrite on the backend.
func (o *brokenOpener) ListChannels(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	be := o.be
	be.mu.Lock()
	defer be.mu.Unlock()
	var names []string
	for name, st := range be.channels {
		st.mu.Lock()
		if len(st.stats.open) > 0 {
			names = append(names, name)
		}
		st.mu.Unlock()
	}
	slices.Sort(names)
	return names, nil
}

// A driver without StatReader skips the Stat case, and passes the others.
func TestStatSkippedWithoutStatReader(t *testing.T) {
	store := memory.NewStore()
	h := walimplstest.Harness{NewOpener: func() (walimpls.OpenerImpls, error) {
		o, err := memory.NewBuilder(memory.WithStore(store)).Build()
		return noStatOpener{o}, err
	}}
	for _, c := range walimplstest.Cases(h) {
		if c.Name != "Stat" {
			continue
		}
		if res := walimplstest.RunCase(c, h); !res.Passed || !res.Skipped {
			t.Fatalf("Stat on a driver without StatReader: %+v", res)
		}
		return
	}
	t.Fatal("no Stat case")
}

// noStatOpener hides memory's StatReader and ChannelLister: its opener and
// WALs have only the contract's methods and LatestIDReader and ClaimReader,
// which the other cases use.
type noStatOpener struct{ walimpls.OpenerImpls }

func (o noStatOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	w, err := o.OpenerImpls.Open(ctx, opt)
	if err != nil {
		return nil, err
	}
	return struct {
		walimpls.WALImpls
		walimpls.LatestIDReader
		walimpls.ClaimReader
	}{w, w.(walimpls.LatestIDReader), w.(walimpls.ClaimReader)}, nil
}
