package adaptor_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

func TestAppendReadRoundTrip(t *testing.T) {
	o := memoryOpener(t, nil)
	ch := newChannel(t)
	w := open(t, o, ch, 1, wal.ReadWrite)
	ids := appendN(t, w, 0, 10)
	s, err := w.Read(context.Background(), wal.ReadOption{Name: "all"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 10 {
		m := recv(t, s, 5*time.Second)
		if !m.MessageID().EQ(ids[i]) || !bytes.Equal(m.Payload(), payload(i)) {
			t.Fatalf("message %d: got %v %q, want %v %q", i, m.MessageID(), m.Payload(), ids[i], payload(i))
		}
		if m.Properties()[interceptors.PropertyTerm] != "1" {
			t.Fatalf("message %d lacks the term stamp: %v", i, m.Properties())
		}
		if interceptors.IsFenceRecord(m) {
			t.Fatal("fence record delivered to the application")
		}
	}
	expectNone(t, s, 20*time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatalf("Close after a clean run: %v", err)
	}
}

func TestAppendRefusesReservedProperty(t *testing.T) {
	w := open(t, memoryOpener(t, nil), newChannel(t), 1, wal.ReadWrite)
	_, err := w.Append(context.Background(), message.NewMutableMessage(nil, message.Properties{message.ReservedPropertyPrefix + "term": "9"}))
	if !errors.Is(err, wal.ErrInvalidArgument) {
		t.Fatalf("got %v, want ErrInvalidArgument", err)
	}
	if _, err := w.Append(context.Background(), nil); !errors.Is(err, wal.ErrInvalidArgument) {
		t.Fatalf("nil message: got %v", err)
	}
	done := make(chan error, 1)
	w.AppendAsync(context.Background(), message.NewMutableMessage(nil, message.Properties{message.ReservedPropertyPrefix + "x": ""}), func(_ *wal.AppendResult, err error) { done <- err })
	if err := <-done; !errors.Is(err, wal.ErrInvalidArgument) {
		t.Fatalf("async: got %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	o := memoryOpener(t, nil)
	ch := newChannel(t)
	rw := open(t, o, ch, 1, wal.ReadWrite)
	appendN(t, rw, 0, 3)
	ro := open(t, o, ch, 1, wal.ReadOnly)
	if _, err := ro.Append(context.Background(), message.NewMutableMessage(nil, nil)); !errors.Is(err, wal.ErrReadOnly) {
		t.Fatalf("append: got %v", err)
	}
	if err := ro.Truncate(context.Background(), nil); !errors.Is(err, wal.ErrReadOnly) {
		t.Fatalf("truncate: got %v", err)
	}
	s, err := ro.Read(context.Background(), wal.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		if m := recv(t, s, 5*time.Second); !bytes.Equal(m.Payload(), payload(i)) {
			t.Fatalf("got %q", m.Payload())
		}
	}
}

// A quiet check fails on a scanner that has ended: before, expectNone took
// the closed channel of a closed scanner for silence.
func TestQuietCheckFailsOnEndedScanner(t *testing.T) {
	o := memoryOpener(t, nil)
	w := open(t, o, newChannel(t), 1, wal.ReadWrite)
	s, err := w.Read(context.Background(), wal.ReadOption{DeliverPolicy: wal.DeliverLatest()})
	if err != nil {
		t.Fatal(err)
	}
	if err := quiet(s, 20*time.Millisecond); err != nil {
		t.Fatalf("running scanner with nothing to read: %v", err)
	}
	s.Close()
	if err := quiet(s, 20*time.Millisecond); err == nil {
		t.Fatal("a closed scanner passed the quiet check")
	}
}
