package adaptor_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/impls/rmq"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// recorder is an interceptor that records what it sees into a shared log.
type recorder struct {
	name string
	mu   *sync.Mutex
	log  *[]string
}

func (r recorder) add(s string) { r.mu.Lock(); *r.log = append(*r.log, r.name+":"+s); r.mu.Unlock() }

func (r recorder) Build(p interceptors.Param) interceptors.Interceptor {
	r.add("build " + p.Channel.Name)
	return &recording{r}
}

type recording struct{ recorder }

func (r *recording) Close() { r.add("close") }
func (r *recording) DoAppend(ctx context.Context, msg message.MutableMessage, next interceptors.AppendFunc) (*wal.AppendResult, error) {
	_, fence := msg.Properties()[interceptors.PropertyFence]
	if fence {
		r.add("append fence")
	} else {
		r.add("append " + string(msg.Payload()))
	}
	res, err := next(ctx, msg)
	if res != nil {
		if res.Extra == nil {
			res.Extra = map[string]any{}
		}
		res.Extra[r.name] = len(*r.log)
	}
	return res, err
}
func (r *recording) OnOpen(ctx context.Context, appendFn interceptors.AppendFunc) error {
	r.add("open")
	return nil
}
func (r *recording) NewReadHook(wal.ReadOption) interceptors.ReadHook {
	return interceptors.ReadHookFunc(func(m message.ImmutableMessage) bool {
		r.add("read " + string(m.Payload()))
		return string(m.Payload()) != "drop-"+r.name
	})
}

func TestInterceptorChainOrder(t *testing.T) {
	var mu sync.Mutex
	var log []string
	o := memoryOpener(t, nil, adaptor.WithInterceptors(recorder{"outer", &mu, &log}, recorder{"inner", &mu, &log}))
	ch := newChannel(t)
	w := open(t, o, ch, 1, wal.ReadWrite)
	res, err := w.Append(context.Background(), message.NewMutableMessage([]byte("a"), nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Extra["outer"] == nil || res.Extra["inner"] == nil || res.Term != 1 {
		t.Fatalf("AppendResult %+v lacks the interceptors' extras or the term", res)
	}
	for _, p := range []string{"drop-inner", "drop-outer", "b"} {
		if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte(p), nil)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.Read(context.Background(), wal.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a", "b"} {
		if m := recv(t, s, 5*time.Second); string(m.Payload()) != want {
			t.Fatalf("delivered %q, want %q", m.Payload(), want)
		}
	}
	s.Close()
	w.Close()
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"outer:build " + ch, "inner:build " + ch,
		// OnOpen in chain order; Fence (innermost) writes its record
		// through the whole chain.
		"outer:open", "inner:open",
		"outer:append fence", "inner:append fence",
		"outer:append a", "inner:append a",
		"outer:append drop-inner", "inner:append drop-inner",
		"outer:append drop-outer", "inner:append drop-outer",
		"outer:append b", "inner:append b",
		// Reads: innermost hook first; a dropped message goes no further.
		"inner:read a", "outer:read a",
		"inner:read drop-inner",
		"inner:read drop-outer", "outer:read drop-outer",
		"inner:read b", "outer:read b",
		"outer:close", "inner:close",
	}
	if fmt.Sprint(log) != fmt.Sprint(want) {
		t.Fatalf("chain log\n got %v\nwant %v", log, want)
	}
}

func TestReadFilters(t *testing.T) {
	w := open(t, memoryOpener(t, nil), newChannel(t), 1, wal.ReadWrite)
	for i := range 10 {
		kind := "even"
		if i%2 == 1 {
			kind = "odd"
		}
		if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte(fmt.Sprint(i)), message.Properties{"kind": kind})); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.Read(context.Background(), wal.ReadOption{Filters: []wal.MessageFilter{
		wal.FilterProperty("kind", "odd"),
		wal.FilterPredicate(func(m message.ImmutableMessage) bool { return string(m.Payload()) != "5" }),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, want := range []string{"1", "3", "7", "9"} {
		if m := recv(t, s, 5*time.Second); string(m.Payload()) != want {
			t.Fatalf("got %q, want %q", m.Payload(), want)
		}
	}
	expectNone(t, s, 20*time.Millisecond)
	if _, err := w.Read(context.Background(), wal.ReadOption{Filters: []wal.MessageFilter{nil}}); !errors.Is(err, wal.ErrInvalidArgument) {
		t.Fatalf("nil filter: %v", err)
	}
}

func TestTruncateThenReadBelowIsOutOfRange(t *testing.T) {
	w := open(t, memoryOpener(t, nil), newChannel(t), 1, wal.ReadWrite)
	ids := appendN(t, w, 0, 5)
	if err := w.Truncate(context.Background(), ids[2]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Read(context.Background(), wal.ReadOption{DeliverPolicy: wal.StartFrom(ids[1])}); !errors.Is(err, wal.ErrOutOfRange) {
		t.Fatalf("read below the truncation point: %v", err)
	}
	s, err := w.Read(context.Background(), wal.ReadOption{DeliverPolicy: wal.StartAfter(ids[2])})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range ids[3:] {
		if m := recv(t, s, 5*time.Second); !m.MessageID().EQ(id) {
			t.Fatalf("got %v, want %v", m.MessageID(), id)
		}
	}
}

// TestFencedWriterBecomesUnavailable: on a backend that fences (rmq), the
// older term's Append fails with ErrFenced and its WAL reports unavailable.
func TestFencedWriterBecomesUnavailable(t *testing.T) {
	o, ch, old, s := caughtUpOnRMQ(t)
	owner := open(t, o, ch, 2, wal.ReadWrite)
	_, err := old.Append(context.Background(), message.NewMutableMessage([]byte("zombie"), nil))
	if !errors.Is(err, wal.ErrFenced) {
		t.Fatalf("zombie append: %v", err)
	}
	select {
	case <-old.Available():
	case <-time.After(5 * time.Second):
		t.Fatal("fenced WAL still available")
	}
	// Its tailing scanner left the (now dropped) cache and sees the new owner's messages.
	want := appendN(t, owner, 100, 2)
	for _, id := range want {
		if m := recv(t, s, 5*time.Second); !m.MessageID().EQ(id) {
			t.Fatalf("old WAL's scanner got %v, want %v", m.MessageID(), id)
		}
	}
}

// TestIdleCachedScannerSeesNewOwner: a WAL superseded by a higher term
// that appends nothing more still shows the new owner's messages to its
// tailing scanners (they leave an idle cache and read the backend).
func TestIdleCachedScannerSeesNewOwner(t *testing.T) {
	o, ch, _, s := caughtUpOnRMQ(t)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, in, _ := adaptor.ScannerStats(s); in > 0 {
			break // tailing from the cache
		}
		if time.Now().After(deadline) {
			t.Fatal("caught-up scanner never switched to the cache")
		}
	}
	owner := open(t, o, ch, 2, wal.ReadWrite)
	for _, id := range appendN(t, owner, 100, 2) {
		if m := recv(t, s, 10*time.Second); !m.MessageID().EQ(id) {
			t.Fatalf("got %v, want %v", m.MessageID(), id)
		}
	}
}

// caughtUpOnRMQ opens a term-1 writer on a fresh rmq channel and a scanner
// of it, then appends until the scanner, having read everything, tails
// from the write-ahead cache (the cache fills only once the WAL has a
// scanner, and the scanner switches when a message it read from the
// backend is in the cache). Everything closes with the test.
func caughtUpOnRMQ(t *testing.T) (wal.Opener, string, wal.WAL, wal.Scanner) {
	t.Helper()
	o, err := adaptor.NewOpenerBuilder(rmq.NewBuilder(rmq.WithPath(t.TempDir()))).Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	ch := newChannel(t)
	old := open(t, o, ch, 1, wal.ReadWrite)
	s, err := old.Read(context.Background(), wal.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		id := appendN(t, old, i, 1)[0]
		if m := recv(t, s, 5*time.Second); !m.MessageID().EQ(id) {
			t.Fatalf("got %v, want %v", m.MessageID(), id)
		}
		if _, in, _ := adaptor.ScannerStats(s); in > 0 && i >= 2 {
			return o, ch, old, s
		}
		if time.Now().After(deadline) {
			t.Fatal("caught-up scanner never switched to the cache")
		}
	}
}
