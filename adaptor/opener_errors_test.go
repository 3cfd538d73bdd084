package adaptor_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/wal"
)

// Every Open error names the WAL and the channel once, whichever step
// refused it, so callers that open many channels need not wrap it again.
func TestOpenErrorsNameTheChannel(t *testing.T) {
	newOpener := func(t *testing.T) wal.Opener {
		t.Helper()
		o, err := adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(memory.NewStore()))).Build()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(o.Close)
		return o
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name    string
		ctx     context.Context
		channel wal.Channel
		closed  bool
		want    error
		prefix  string
	}{
		{"invalid name", context.Background(), wal.Channel{Name: "bad/name", AccessMode: wal.ReadWrite}, false, wal.ErrInvalidArgument, `open memory channel "bad/name": `},
		{"negative term", context.Background(), wal.Channel{Name: "a", Term: -1, AccessMode: wal.ReadWrite}, false, wal.ErrInvalidArgument, `open memory channel "a": `},
		{"missing channel", context.Background(), wal.Channel{Name: "nosuch", AccessMode: wal.ReadOnly}, false, wal.ErrNotFound, `open memory channel "nosuch": `},
		{"canceled context", canceled, wal.Channel{Name: "b", AccessMode: wal.ReadWrite}, false, context.Canceled, `open memory channel "b": `},
		{"closed opener", context.Background(), wal.Channel{Name: "c", AccessMode: wal.ReadWrite}, true, wal.ErrClosed, `open memory channel "c": `},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := newOpener(t)
			if c.closed {
				o.Close()
			}
			w, err := o.Open(c.ctx, &wal.OpenOption{Channel: c.channel})
			if err == nil {
				w.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, c.want) {
				t.Errorf("Open: %v, want errors.Is %v", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), c.prefix) || strings.Count(err.Error(), "open memory channel") != 1 {
				t.Errorf("Open: %q, want it to start with %q once", err, c.prefix)
			}
		})
	}
	t.Run("nil option", func(t *testing.T) {
		_, err := newOpener(t).Open(context.Background(), nil)
		if !errors.Is(err, wal.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), `open memory channel "": `) {
			t.Errorf("Open(nil): %v", err)
		}
	})
}
