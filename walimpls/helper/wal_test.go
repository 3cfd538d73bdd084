package helper

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

func TestWALBaseChecks(t *testing.T) {
	ctx := context.Background()
	ro := NewWALBase("t", walimpls.Channel{Name: "c", AccessMode: walimpls.ReadOnly}, 10)
	small := message.NewMutableMessage([]byte("x"), nil)
	if err := ro.CheckAppend(ctx, small); !errors.Is(err, walimpls.ErrReadOnly) {
		t.Errorf("read-only append: %v", err)
	}
	rw := NewWALBase("t", walimpls.Channel{Name: "c"}, 10)
	if err := rw.CheckAppend(ctx, message.NewMutableMessage(make([]byte, 8), message.Properties{"k": "vv"})); !errors.Is(err, walimpls.ErrMessageTooLarge) {
		t.Errorf("11-byte message with limit 10: %v", err)
	}
	if err := rw.CheckTruncate(ctx, NewInt64ID("other", 1)); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Errorf("foreign truncate: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := rw.CheckRead(cancelled, walimpls.ReadOption{}); !errors.Is(err, context.Canceled) {
		t.Errorf("read with cancelled ctx: %v", err)
	}
	s, err := rw.StartScanner(walimpls.ReadOption{}, func(ctx context.Context, emit Emit) error { <-ctx.Done(); return nil })
	if err != nil {
		t.Fatal(err)
	}
	rw.Close()
	<-s.Done()
	if !errors.Is(s.Error(), walimpls.ErrClosed) {
		t.Errorf("scanner of a closed WAL: Error = %v", s.Error())
	}
	if err := rw.CheckAppend(ctx, small); !errors.Is(err, walimpls.ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
	if _, err := rw.StartScanner(walimpls.ReadOption{}, func(context.Context, Emit) error { return nil }); !errors.Is(err, walimpls.ErrClosed) {
		t.Errorf("StartScanner after close: %v", err)
	}
}

// A started scanner costs one goroutine, which also untracks it when it
// ends; a WAL's Close still ends every scanner.
func TestStartScannerOneGoroutineEach(t *testing.T) {
	const n = 200
	b := NewWALBase("t", walimpls.Channel{Name: "c"}, 10)
	idle := func(ctx context.Context, emit Emit) error { <-ctx.Done(); return nil }
	before := runtime.NumGoroutine()
	scanners := make([]*Scanner, n)
	for i := range scanners {
		s, err := b.StartScanner(walimpls.ReadOption{}, idle)
		if err != nil {
			t.Fatal(err)
		}
		scanners[i] = s
	}
	if d := runtime.NumGoroutine() - before; d > n+n/10 {
		t.Errorf("%d goroutines for %d idle scanners, want one each", d, n)
	}
	_ = scanners[0].Close() // untracked by its own goroutine
	b.Close()
	for _, s := range scanners[1:] {
		<-s.Done()
		if err := s.Error(); !errors.Is(err, walimpls.ErrClosed) {
			t.Fatalf("scanner ended by Close: %v, want ErrClosed", err)
		}
	}
	if _, err := b.StartScanner(walimpls.ReadOption{}, idle); !errors.Is(err, walimpls.ErrClosed) {
		t.Fatalf("StartScanner on a closed WAL: %v", err)
	}
}
