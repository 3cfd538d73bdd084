package adaptor_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/wal"
)

// hookLog records every hook event as a line.
type hookLog struct {
	mu     sync.Mutex
	events []string
	seen   chan string // every event, for waiting
}

func newHookLog() *hookLog { return &hookLog{seen: make(chan string, 1024)} }

func (l *hookLog) add(w adaptor.WALInfo, format string, args ...any) {
	e := fmt.Sprintf("%s/%s/%d %s", w.Backend, w.Channel.Name, w.Channel.Term, fmt.Sprintf(format, args...))
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	l.seen <- e
}

func (l *hookLog) OnWALOpened(w adaptor.WALInfo) { l.add(w, "opened") }
func (l *hookLog) OnWALClosed(w adaptor.WALInfo) { l.add(w, "closed") }
func (l *hookLog) OnAppended(w adaptor.WALInfo, e adaptor.AppendEvent) {
	l.add(w, "appended %d bytes id=%v err=%v", e.Bytes, e.ID != nil, e.Err != nil)
}
func (l *hookLog) OnTruncated(w adaptor.WALInfo, e adaptor.TruncateEvent) {
	l.add(w, "truncated err=%v", e.Err != nil)
}
func (l *hookLog) OnDelivered(w adaptor.WALInfo, e adaptor.DeliverEvent) {
	l.add(w, "delivered %s %d bytes", e.Scanner, e.Bytes)
}
func (l *hookLog) OnScannerOpened(w adaptor.WALInfo, name string) {
	l.add(w, "scanner %s opened", name)
}
func (l *hookLog) OnScannerClosed(w adaptor.WALInfo, e adaptor.ScannerClosedEvent) {
	l.add(w, "scanner %s closed err=%v", e.Scanner, e.Err)
}
func (l *hookLog) OnScannerReconnected(w adaptor.WALInfo, e adaptor.ReconnectEvent) {
	l.add(w, "scanner %s reconnect %d cause=%v", e.Scanner, e.Attempt, errors.Is(e.Cause, errInjected))
}

func (l *hookLog) waitFor(t *testing.T, event string) {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case e := <-l.seen:
			if e == event {
				return
			}
		case <-timer.C:
			t.Fatalf("no hook event %q", event)
		}
	}
}

// Every hook is told of its events, in order, once each; the fence record
// is not an application append; nothing comes after the WAL closed.
func TestHooksSeeEveryEvent(t *testing.T) {
	impl, _ := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	fo := newFaultyOpener(impl, faults{}, 1)
	fo.kick = newKicker()
	log := newHookLog()
	o := adaptor.NewOpener(memory.Name, fo, adaptor.WithHooks(log, nil, struct{}{}), adaptor.WithWriteAheadCache(0),
		adaptor.WithScannerBackoff(time.Millisecond, time.Millisecond))
	defer o.Close()
	ctx := context.Background()
	w, err := o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "h", Term: 2}})
	if err != nil {
		t.Fatal(err)
	}
	ids := appendN(t, w, 0, 2)
	if _, err := w.Append(ctx, nil); err == nil {
		t.Fatal("nil message appended")
	}
	s, err := w.Read(ctx, wal.ReadOption{Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, s, 5*time.Second)
	recv(t, s, 5*time.Second)
	fo.kick.kick()
	log.waitFor(t, "memory/h/2 scanner s reconnect 1 cause=true")
	done := make(chan error, 1)
	w.AppendAsync(ctx, small("async"), func(_ *wal.AppendResult, err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	recv(t, s, 5*time.Second)
	// The delivered hook may run just after the message reached the
	// scanner's channel: wait for it, so the order below is the scanner's.
	log.waitFor(t, "memory/h/2 delivered s 17 bytes")
	if err := w.Truncate(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	w.Close()
	<-s.Done()
	if _, err := w.Append(ctx, small("late")); !errors.Is(err, wal.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	want := []string{
		"memory/h/2 opened",
		"memory/h/2 appended 9 bytes id=true err=false", // payload m000000, property i=0
		"memory/h/2 appended 9 bytes id=true err=false",
		"memory/h/2 appended 0 bytes id=false err=true",
		"memory/h/2 scanner s opened",
		"memory/h/2 delivered s 21 bytes", // the term property (_mqwal.term=2) included
		"memory/h/2 delivered s 21 bytes",
		"memory/h/2 scanner s reconnect 1 cause=true",
		"memory/h/2 appended 5 bytes id=true err=false",
		"memory/h/2 delivered s 17 bytes",
		"memory/h/2 truncated err=false",
		"memory/h/2 scanner s closed err=" + fmt.Sprint(s.Error()),
		"memory/h/2 closed",
	}
	if got, wantS := fmt.Sprintf("%q", log.events), fmt.Sprintf("%q", want); got != wantS {
		t.Fatalf("events\n%s\nwant\n%s", got, wantS)
	}
}
