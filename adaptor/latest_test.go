package adaptor_test

import (
	"context"
	"fmt"
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
