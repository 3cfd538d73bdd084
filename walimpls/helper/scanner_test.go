package helper

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

func waitDone(t *testing.T, s *Scanner) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("scanner did not end")
	}
	if _, ok := <-s.Chan(); ok {
		t.Fatal("Chan still open after Done")
	}
}

func TestScannerDeliversThenFails(t *testing.T) {
	boom := errors.New("boom")
	s := NewScanner("s", 1, func(ctx context.Context, emit Emit) error {
		for i := range 3 {
			if err := emit(message.NewImmutableMessage(NewInt64ID("t", int64(i)), "ch", nil, nil)); err != nil {
				return err
			}
		}
		return boom
	})
	for i := range 3 {
		m := <-s.Chan()
		if m.MessageID().(Int64ID).Value() != int64(i) {
			t.Fatalf("message %d has ID %v", i, m.MessageID())
		}
	}
	waitDone(t, s)
	if !errors.Is(s.Error(), boom) || !errors.Is(s.Close(), boom) {
		t.Fatalf("Error = %v, Close = %v; want boom from both", s.Error(), s.Close())
	}
}

func TestScannerCloseUnblocksProducer(t *testing.T) {
	s := NewScanner("s", 0, func(ctx context.Context, emit Emit) error {
		for {
			if err := emit(message.NewImmutableMessage(nil, "ch", nil, nil)); err != nil {
				return err
			}
		}
	})
	if err := s.Close(); err != nil {
		t.Fatalf("Close of a healthy scanner = %v, want nil", err)
	}
	waitDone(t, s)
	if err := s.Error(); err != nil {
		t.Fatalf("Error after Close = %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestScannerStopReportsCause(t *testing.T) {
	s := NewScanner("s", 0, func(ctx context.Context, emit Emit) error {
		<-ctx.Done()
		return ctx.Err()
	})
	s.Stop(walimpls.ErrClosed)
	waitDone(t, s)
	if !errors.Is(s.Error(), walimpls.ErrClosed) {
		t.Fatalf("Error after Stop(ErrClosed) = %v", s.Error())
	}
}

// A stopped scanner's producer must see the stop at its next emit, even
// with room left in the buffer: otherwise a producer that never blocks
// would fill the whole read-ahead before noticing.
func TestScannerEmitAfterStopFailsWithRoomInBuffer(t *testing.T) {
	stopped := make(chan struct{})
	emitted := make(chan error, 1)
	s := NewScanner("s", 16, func(ctx context.Context, emit Emit) error {
		<-stopped
		err := emit(message.NewImmutableMessage(nil, "ch", nil, nil))
		emitted <- err
		return err
	})
	s.cancel(walimpls.ErrClosed) // stop without waiting, so the producer runs after it
	close(stopped)
	if err := <-emitted; !errors.Is(err, context.Canceled) {
		t.Fatalf("emit after stop = %v, want context.Canceled", err)
	}
	waitDone(t, s)
	if !errors.Is(s.Error(), walimpls.ErrClosed) {
		t.Fatalf("Error = %v, want the stop's cause", s.Error())
	}
}
