package rmq

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mqwal/mqwal/walimpls"
)

func newCommitterStore(t *testing.T) *store {
	t.Helper()
	s := &store{path: "/data", health: newHealth("/data", slog.New(slog.NewTextHandler(io.Discard, nil)))}
	s.committer = startCommitter(s)
	return s
}

// TestCommitterRefusesAfterFailure: once the store failed, a call does not
// run and says so (notEntered, ErrStoreFailed).
func TestCommitterRefusesAfterFailure(t *testing.T) {
	s := newCommitterStore(t)
	defer s.committer.close()
	if err := s.call(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	s.fail(errors.New("disk broke"))
	ran := false
	err := s.call(func() error { ran = true; return nil })
	if ran || !isNotEntered(err) || !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("call after the failure: ran %v, err %v; want not run, notEntered ErrStoreFailed", ran, err)
	}
}

// TestCommitterPebbleStopped: when Pebble stops while the committer is
// inside a call (it may never return), that caller and the ones queued
// behind it return at once: the one inside with an unknown outcome
// (errPebbleStopped), the queued ones as not entered.
func TestCommitterPebbleStopped(t *testing.T) {
	s := newCommitterStore(t)
	inside, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.call(func() error {
			close(inside)
			<-release // a parked rotation, until the test lets go
			return nil
		})
	}()
	<-inside
	queued := make(chan error, 1)
	go func() {
		queued <- s.call(func() error { t.Error("a call queued behind a stopped Pebble ran"); return nil })
	}()
	s.health.stop(fatalError{msg: "pebble stopped: test", cause: errors.New("test")})
	for name, ch := range map[string]chan error{"inside": first, "queued": queued} {
		select {
		case err := <-ch:
			if name == "inside" && !errors.Is(err, errPebbleStopped) {
				t.Errorf("the call inside Pebble: %v, want errPebbleStopped", err)
			}
			if name == "queued" && !isNotEntered(err) {
				t.Errorf("the queued call: %v, want notEntered", err)
			}
			if !errors.Is(err, ErrStoreFailed) {
				t.Errorf("%s call: %v does not wrap ErrStoreFailed", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the %s call did not return after Pebble stopped", name)
		}
	}
	close(release)
	s.committer.close()
}

// TestCommitterClosed: a call after the committer ended is refused as
// closed.
func TestCommitterClosed(t *testing.T) {
	s := newCommitterStore(t)
	s.committer.close()
	if err := s.call(func() error { return nil }); !errors.Is(err, walimpls.ErrClosed) || !isNotEntered(err) {
		t.Fatalf("call after close: %v, want notEntered ErrClosed", err)
	}
}
