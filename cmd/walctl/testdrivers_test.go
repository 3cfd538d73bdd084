package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
)

// Test drivers over the memory driver's process store, for what no
// built-in driver does yet (stat) or must never do (verify's anomalies).
// They run in-process only: the walctl binary does not have them.
func init() {
	registry.RegisterBuilder(testBuilder{name: "memstat"})
	registry.RegisterBuilder(testBuilder{name: "memlossy"})
}

type testBuilder struct{ name string }

func (b testBuilder) Name() string { return b.name }

func (b testBuilder) Build() (walimpls.OpenerImpls, error) {
	inner, err := memory.NewBuilder().Build()
	if err != nil {
		return nil, err
	}
	return &testOpener{OpenerImpls: inner, name: b.name}, nil
}

// testOpener is memstat (StatReader, ChannelLister) or memlossy (every 25th
// append is stored but reported not stored: ErrUnavailable).
type testOpener struct {
	walimpls.OpenerImpls
	name    string
	appends atomic.Int64
}

// statsOf is what memstat knows of each channel, for every opener.
var statsOf = struct {
	sync.Mutex
	m map[string]*walimpls.ChannelStat
}{m: map[string]*walimpls.ChannelStat{}}

func (o *testOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	w, err := o.OpenerImpls.Open(ctx, opt)
	if err != nil {
		return nil, err
	}
	if o.name == "memstat" && opt.Channel.AccessMode == walimpls.ReadWrite {
		statsOf.Lock()
		st, ok := statsOf.m[opt.Channel.Name]
		if !ok {
			st = &walimpls.ChannelStat{Channel: opt.Channel.Name, BackendName: "memory/" + opt.Channel.Name, Bytes: walimpls.Unknown, Term: -1}
			statsOf.m[opt.Channel.Name] = st
		}
		st.Term = max(st.Term, opt.Channel.Term)
		st.Writer = walimpls.WriterHeld
		statsOf.Unlock()
	}
	if o.name == "memstat" {
		return &statWAL{WALImpls: w}, nil
	}
	return &testWAL{WALImpls: w, o: o}, nil
}

func (o *testOpener) ListChannels(ctx context.Context) ([]string, error) {
	statsOf.Lock()
	defer statsOf.Unlock()
	var names []string
	for n := range statsOf.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

type statWAL struct{ walimpls.WALImpls }

func (w *statWAL) Close() {
	w.WALImpls.Close()
	if w.Channel().AccessMode == walimpls.ReadWrite {
		statsOf.Lock()
		statsOf.m[w.Channel().Name].Writer = walimpls.WriterNone
		statsOf.Unlock()
	}
}

func (w *statWAL) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	id, err := w.WALImpls.Append(ctx, msg)
	if err == nil {
		statsOf.Lock()
		st := statsOf.m[w.Channel().Name]
		if st.First == nil {
			st.First = id
		}
		st.Last = id
		st.Messages++
		statsOf.Unlock()
	}
	return id, err
}

func (w *statWAL) Stat(ctx context.Context) (walimpls.ChannelStat, error) {
	statsOf.Lock()
	defer statsOf.Unlock()
	if st, ok := statsOf.m[w.Channel().Name]; ok {
		return *st, nil
	}
	return walimpls.ChannelStat{Channel: w.Channel().Name, Messages: 0, Bytes: walimpls.Unknown, Term: walimpls.Unknown}, nil
}

func (w *statWAL) LatestID(ctx context.Context) (message.MessageID, error) {
	return w.WALImpls.(walimpls.LatestIDReader).LatestID(ctx)
}

type testWAL struct {
	walimpls.WALImpls
	o *testOpener
}

func (w *testWAL) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	id, err := w.WALImpls.Append(ctx, msg)
	if err == nil && w.o.appends.Add(1)%25 == 0 {
		return nil, fmt.Errorf("%w: memlossy says it refused (it stored it)", walimpls.ErrUnavailable)
	}
	return id, err
}

func (w *testWAL) LatestID(ctx context.Context) (message.MessageID, error) {
	return w.WALImpls.(walimpls.LatestIDReader).LatestID(ctx)
}
