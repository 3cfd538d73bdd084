package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
	"github.com/mqwal/mqwal/walimpls/registry"
)

// A test driver over the memory driver's process store, for what no
// built-in driver must ever do (verify's anomalies). It runs in-process
// only: the walctl binary does not have it.
func init() {
	registry.RegisterBuilder(testBuilder{name: "memlossy"})
	registry.RegisterBuilder(testBuilder{name: "memlateopen"})
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

// testOpener is memlossy: every 25th append is stored but reported not
// stored (ErrUnavailable). It hides memory's statistics and listing
// (walimpls.StatReader, ChannelLister): its WALs and opener have only the
// methods defined here.
type testOpener struct {
	walimpls.OpenerImpls
	name    string
	appends atomic.Int64
}

func (o *testOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	w, err := o.OpenerImpls.Open(ctx, opt)
	if err != nil {
		if o.name == "memlateopen" && errors.Is(err, walimpls.ErrNotFound) {
			o.lateNotFound(ctx, opt.Channel.Name)
		}
		return nil, err
	}
	return &testWAL{WALImpls: w, o: o}, nil
}

// lateNotFound is memlateopen: a ReadOnly open that found no channel
// answers only once the channel exists and holds the writer's fence record
// and two messages, so with one writer of concurrency 1 the first append
// was acknowledged before the "no such channel" arrives, as a slow answer
// from a real broker can be. It gives up after 10 seconds.
func (o *testOpener) lateNotFound(ctx context.Context, channel string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		w, err := o.OpenerImpls.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: channel, AccessMode: walimpls.ReadOnly}})
		if err == nil {
			last, err := w.(walimpls.LatestIDReader).LatestID(ctx)
			w.Close()
			if err == nil && last != nil && !last.LT(helper.NewInt64ID(memory.Name, 2)) {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
}

type testWAL struct {
	walimpls.WALImpls
	o *testOpener
}

func (w *testWAL) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	id, err := w.WALImpls.Append(ctx, msg)
	if err == nil && w.o.name == "memlossy" && w.o.appends.Add(1)%25 == 0 {
		return nil, fmt.Errorf("%w: memlossy says it refused (it stored it)", walimpls.ErrUnavailable)
	}
	return id, err
}

func (w *testWAL) LatestID(ctx context.Context) (message.MessageID, error) {
	return w.WALImpls.(walimpls.LatestIDReader).LatestID(ctx)
}
