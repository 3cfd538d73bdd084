package interceptors_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

func openMemory(t *testing.T, ch string, opts ...adaptor.Option) (wal.Opener, wal.WAL) {
	t.Helper()
	o, err := adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(memory.NewStore()), memory.WithMaxMessageSize(1000)), opts...).Build()
	if err != nil {
		t.Fatal(err)
	}
	w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: ch, Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return o, w
}

func readN(t *testing.T, w wal.WAL, n int) {
	t.Helper()
	s, err := w.Read(context.Background(), wal.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range n {
		select {
		case <-s.Chan():
		case <-time.After(5 * time.Second):
			t.Fatal("no message")
		}
	}
}

// records is a slog.Handler that keeps what it is given.
type records struct {
	mu    *sync.Mutex
	all   *[]slog.Record
	attrs []slog.Attr
	level slog.Level
}

func newRecords(level slog.Level) records {
	return records{mu: new(sync.Mutex), all: new([]slog.Record), level: level}
}

func (r records) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r records) WithGroup(string) slog.Handler                { return r }
func (r records) WithAttrs(as []slog.Attr) slog.Handler {
	r.attrs = append(append([]slog.Attr(nil), r.attrs...), as...)
	return r
}
func (r records) Handle(_ context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(r.attrs...)
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.all = append(*r.all, rec)
	return nil
}

// find returns the records with message msg, each as its attributes.
func (r records) find(msg string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, rec := range *r.all {
		if rec.Message == msg {
			m := map[string]string{}
			rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
			out = append(out, m)
		}
	}
	return out
}

func (r records) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(*r.all)
}

func TestLoggingLifecycleNotPerMessage(t *testing.T) {
	logs := newRecords(slog.LevelInfo)
	o, w := openMemory(t, "logging", adaptor.WithLogger(slog.New(logs)))
	for range 10 {
		if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte("x"), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Append(context.Background(), message.NewMutableMessage(make([]byte, 2000), nil)); err == nil {
		t.Fatal("oversized append succeeded")
	}
	readN(t, w, 10)
	o.Close()
	for _, msg := range []string{"fence record written", "wal opened", "append failed", "wal closed", "opener closed"} {
		if len(logs.find(msg)) == 0 {
			t.Errorf("no %q log entry", msg)
		}
	}
	if n := logs.len(); n > 8 {
		t.Errorf("%d info+ entries for 10 appends: something logs per message", n)
	}
	e := logs.find("wal opened")[0]
	if e["channel"] != "logging" || e["backend"] != "memory" {
		t.Errorf("open entry lacks channel/backend fields: %v", e)
	}
}
