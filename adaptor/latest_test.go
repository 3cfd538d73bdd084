package adaptor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// outageBuilder wraps the memory driver; the first scanner of each WAL
// delivers nothing and fails with a retryable error once kick closes.
type outageBuilder struct {
	inner walimpls.OpenerBuilderImpls
	kick  chan struct{}
}

func (b outageBuilder) Name() string { return b.inner.Name() }
func (b outageBuilder) Build() (walimpls.OpenerImpls, error) {
	o, err := b.inner.Build()
	return outageOpener{OpenerImpls: o, kick: b.kick}, err
}

type outageOpener struct {
	walimpls.OpenerImpls
	kick chan struct{}
}

func (o outageOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	w, err := o.OpenerImpls.Open(ctx, opt)
	if err != nil {
		return nil, err
	}
	return &outageWAL{WALImpls: w, kick: o.kick}, nil
}

type outageWAL struct {
	walimpls.WALImpls
	kick  chan struct{}
	reads int
}

func (w *outageWAL) LatestID(ctx context.Context) (message.MessageID, error) {
	return w.WALImpls.(walimpls.LatestIDReader).LatestID(ctx)
}

func (w *outageWAL) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	w.reads++
	if w.reads > 1 {
		return w.WALImpls.Read(ctx, opt)
	}
	return helper.NewScanner(opt.Name, opt.BufferSize(), func(ctx context.Context, emit helper.Emit) error {
		select {
		case <-w.kick:
			return fmt.Errorf("%w: injected outage", walimpls.ErrUnavailable)
		case <-ctx.Done():
			return ctx.Err()
		}
	}), nil
}

// A DeliverLatest scanner whose first backend reader fails before it
// delivered anything must still deliver what was appended meanwhile.
func TestDeliverLatestReconnectBeforeFirstMessageHasNoGap(t *testing.T) {
	kick := make(chan struct{})
	b := outageBuilder{inner: memory.NewBuilder(memory.WithStore(memory.NewStore())), kick: kick}
	o, err := adaptor.NewOpenerBuilder(b, adaptor.WithScannerBackoff(time.Millisecond, 10*time.Millisecond)).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w := open(t, o, newChannel(t), 1, wal.ReadWrite)
	appendN(t, w, 0, 3) // before the scanner: never delivered
	s, err := w.Read(context.Background(), wal.ReadOption{DeliverPolicy: wal.DeliverLatest()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := appendN(t, w, 3, 2) // during the outage
	close(kick)
	for i, want := range ids {
		m := recv(t, s, 5*time.Second)
		if !m.MessageID().EQ(want) || string(m.Payload()) != string(payload(3+i)) {
			t.Fatalf("message %d after the reconnect: %v %q, want %v %q", i, m.MessageID(), m.Payload(), want, payload(3+i))
		}
	}
	expectNone(t, s, 100*time.Millisecond)
}

// LatestID through the wal API is the driver's: the newest record's ID
// (on a fresh ReadWrite WAL its fence record, which no scanner delivers),
// the same through a ReadOnly WAL, and StartAfter it delivers exactly what
// comes next. After Close it fails with ErrClosed.
func TestLatestIDThroughTheWALAPI(t *testing.T) {
	ctx := context.Background()
	o := memoryOpener(t, nil)
	ch := newChannel(t)
	w := open(t, o, ch, 1, wal.ReadWrite)
	fence, err := wal.LatestID(ctx, w)
	if err != nil || fence == nil {
		t.Fatalf("LatestID of a fresh ReadWrite WAL = %v, %v; want its fence record's ID", fence, err)
	}
	ids := appendN(t, w, 0, 3)
	ro := open(t, o, ch, 0, wal.ReadOnly)
	for _, x := range []wal.WAL{w, ro} {
		if id, err := wal.LatestID(ctx, x); err != nil || !id.EQ(ids[2]) {
			t.Fatalf("LatestID through the %v WAL = %v, %v; want %v", x.Channel().AccessMode, id, err, ids[2])
		}
	}
	s, err := ro.Read(ctx, wal.ReadOption{DeliverPolicy: wal.StartAfter(ids[2])})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	next := appendN(t, w, 3, 1)[0]
	if m := recv(t, s, 5*time.Second); !m.MessageID().EQ(next) {
		t.Fatalf("StartAfter(LatestID) delivered %v, want %v", m.MessageID(), next)
	}
	ro.Close()
	if _, err := wal.LatestID(ctx, ro); !errors.Is(err, wal.ErrClosed) {
		t.Fatalf("LatestID after Close: %v, want ErrClosed", err)
	}
}

// extras wraps the memory driver with Stat on its WALs and ListChannels on
// its opener, each answering a fixed value (not memory's own).
type extrasOpener struct{ walimpls.OpenerImpls }

var extrasChannels = []string{"a", "b"}

func (o extrasOpener) ListChannels(ctx context.Context) ([]string, error) {
	return extrasChannels, ctx.Err()
}

func (o extrasOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	w, err := o.OpenerImpls.Open(ctx, opt)
	if err != nil {
		return nil, err
	}
	return extrasWAL{w}, nil
}

type extrasWAL struct{ walimpls.WALImpls }

func (w extrasWAL) Stat(ctx context.Context) (walimpls.ChannelStat, error) {
	return walimpls.ChannelStat{Channel: w.Channel().Name, Messages: 42, Bytes: walimpls.Unknown, Term: walimpls.Unknown}, ctx.Err()
}

// Stat and ListChannels through the wal API delegate to the driver where it
// implements them, and wrap ErrUnsupported where it does not (memory has
// neither; a wrapper that hides LatestIDReader makes it unsupported too),
// so a caller tells "cannot" from "failed".
func TestOptionalReadersThroughTheWALAPI(t *testing.T) {
	ctx := context.Background()
	impl, _ := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	o := adaptor.NewOpener(memory.Name, extrasOpener{impl})
	t.Cleanup(o.Close)
	ch := newChannel(t)
	w := open(t, o, ch, 1, wal.ReadWrite)
	st, err := wal.Stat(ctx, w)
	if err != nil || st.Channel != ch || st.Messages != 42 {
		t.Fatalf("Stat = %+v, %v; want the driver's", st, err)
	}
	if chs, err := wal.ListChannels(ctx, o); err != nil || !slices.Equal(chs, extrasChannels) {
		t.Fatalf("ListChannels = %v, %v; want %v", chs, err, extrasChannels)
	}
	// extrasWAL hides memory's LatestIDReader.
	if _, err := wal.LatestID(ctx, w); !errors.Is(err, wal.ErrUnsupported) {
		t.Fatalf("LatestID of a driver without LatestIDReader: %v, want ErrUnsupported", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := wal.Stat(cancelled, w); !errors.Is(err, context.Canceled) || errors.Is(err, wal.ErrUnsupported) {
		t.Fatalf("Stat with a cancelled ctx: %v, want the driver's context.Canceled", err)
	}

	bareImpl, _ := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	bare := adaptor.NewOpener(memory.Name, plainOpener{bareImpl})
	t.Cleanup(bare.Close)
	bw := open(t, bare, ch, 1, wal.ReadWrite)
	if _, err := wal.Stat(ctx, bw); !errors.Is(err, wal.ErrUnsupported) {
		t.Fatalf("Stat on a driver without StatReader: %v, want ErrUnsupported", err)
	}
	if _, err := wal.ListChannels(ctx, bare); !errors.Is(err, wal.ErrUnsupported) {
		t.Fatalf("ListChannels on a driver without ChannelLister: %v, want ErrUnsupported", err)
	}
	o.Close()
	if _, err := wal.ListChannels(ctx, o); !errors.Is(err, wal.ErrClosed) {
		t.Fatalf("ListChannels after Close: %v, want ErrClosed", err)
	}
}

// plainOpener hides every optional interface of a driver: its opener has
// only OpenerImpls's methods, its WALs only WALImpls's.
type plainOpener struct{ walimpls.OpenerImpls }

func (o plainOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	w, err := o.OpenerImpls.Open(ctx, opt)
	if err != nil {
		return nil, err
	}
	return struct{ walimpls.WALImpls }{w}, nil
}
