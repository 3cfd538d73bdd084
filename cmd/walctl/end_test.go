package main

import (
	"context"
	"testing"
	"time"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// A read-only scanner ends right after the end set for its channel, also
// when the end is set after it has read that far (verify sets it when its
// writers stop), and only read-only WALs are bounded.
func TestEndOpener(t *testing.T) {
	ctx := context.Background()
	impl, err := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	if err != nil {
		t.Fatal(err)
	}
	o := newEndOpener(impl)
	defer o.Close()
	w, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "e", Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(*endWAL); ok {
		t.Fatal("a ReadWrite WAL is bounded")
	}
	var ids []message.MessageID
	for _, p := range []string{"a", "b", "c"} {
		id, err := w.Append(ctx, message.NewMutableMessage([]byte(p), nil))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ro, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "e", AccessMode: walimpls.ReadOnly}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ro.(walimpls.LatestIDReader); !ok {
		t.Fatal("the bounded WAL hides the driver's LatestIDReader from the adaptor")
	}
	read := func(s walimpls.ScannerImpls, n int) {
		t.Helper()
		for i := range n {
			select {
			case m := <-s.Chan():
				if !m.MessageID().EQ(ids[i]) {
					t.Fatalf("message %d: %v", i, m.MessageID())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no message %d", i)
			}
		}
	}
	ended := func(s walimpls.ScannerImpls) {
		t.Helper()
		select {
		case <-s.Done():
			if !reachedEnd(s.Error()) {
				t.Fatalf("scanner ended with %v", s.Error())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("scanner did not end at its end")
		}
	}
	// The end set first: the scanner ends right after it.
	o.setEnd("e", ids[1])
	s, err := ro.Read(ctx, walimpls.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	read(s, 2)
	ended(s)
	// The end set later, when the scanner is already there.
	o.setEnd("e", nil)
	s, err = ro.Read(ctx, walimpls.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	read(s, 3)
	o.setEnd("e", ids[2])
	ended(s)
}

func TestPolicyReaches(t *testing.T) {
	id := func(v int64) message.MessageID { return helper.NewInt64ID("memory", v) }
	for _, tc := range []struct {
		p    wal.DeliverPolicy
		want bool
	}{
		{wal.DeliverAll(), true},
		{wal.DeliverLatest(), false},
		{wal.StartFrom(id(5)), true},
		{wal.StartFrom(id(6)), false},
		{wal.StartAfter(id(4)), true},
		{wal.StartAfter(id(5)), false},
	} {
		if got := policyReaches(tc.p, id(5)); got != tc.want {
			t.Errorf("policyReaches(%v, 5) = %v", tc.p, got)
		}
	}
}
