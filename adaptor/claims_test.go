package adaptor_test

import (
	"context"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// TestOneFenceForEveryReader: on memory, which stores a zombie's appends,
// every scanner delivers the same log whatever its start: term 1 writes a,
// term 2 opens and writes b, the term-1 zombie writes z, term 3 opens and
// writes c. Scanners from DeliverAll, StartAfter(a), StartAfter(b),
// StartFrom(z), a DeliverLatest one opened before c, and DeliverAll after
// truncations all deliver the subsequence of a, b, c after their start;
// none delivers z, whose fence record it may never have read.
func TestOneFenceForEveryReader(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store := memory.NewStore()
	ch := newChannel(t)
	w1 := open(t, memoryOpener(t, store), ch, 1, wal.ReadWrite)
	a := appendTagged(t, w1, "a", 1)[0]
	w2 := open(t, memoryOpener(t, store), ch, 2, wal.ReadWrite)
	b := appendTagged(t, w2, "b", 1)[0]
	z := appendTagged(t, w1, "z", 1)[0] // memory does not fence: stored
	reader := open(t, memoryOpener(t, store), ch, 0, wal.ReadOnly)
	latest := mustRead(t, reader, "latest", wal.DeliverLatest())
	w3 := open(t, memoryOpener(t, store), ch, 3, wal.ReadWrite)
	c := appendTagged(t, w3, "c", 1)[0]
	log := []message.MessageID{a, b, c}

	check := func(s wal.Scanner, start message.MessageID) {
		t.Helper()
		want := log
		if start != nil {
			want = wantFrom(log, start)
		}
		expectIDs(t, s, c, want)
	}
	for _, w := range []wal.WAL{reader, w1, w2, w3} {
		check(mustRead(t, w, "all", wal.DeliverAll()), nil)
		check(mustRead(t, w, "after-a", wal.StartAfter(a)), a)
		check(mustRead(t, w, "after-b", wal.StartAfter(b)), b)
		check(mustRead(t, w, "from-z", wal.StartFrom(z)), b) // z itself is not in the log
	}
	check(latest, b)

	// Truncating through a, then through b, leaves z as the oldest retained
	// message: a scanner from the start must still know term 2's claim.
	for _, through := range []message.MessageID{a, b} {
		if err := w3.Truncate(ctx, through); err != nil {
			t.Fatal(err)
		}
		check(mustRead(t, reader, "all-truncated", wal.DeliverAll()), through)
		check(mustRead(t, w3, "own-all-truncated", wal.DeliverAll()), through)
	}
}

// TestForeignTermDoesNotHideAckedAppends: a message another client stored
// with _mqwal.term=99 is not a fence: it is delivered, and the writer's
// later acknowledged appends (term 2) are delivered after it.
func TestForeignTermDoesNotHideAckedAppends(t *testing.T) {
	store := memory.NewStore()
	ch := newChannel(t)
	w := open(t, memoryOpener(t, store), ch, 2, wal.ReadWrite)
	before := appendTagged(t, w, "before", 1)[0]

	raw, err := memory.NewBuilder(memory.WithStore(store)).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	foreignWAL, err := raw.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 0}})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := foreignWAL.Append(context.Background(), message.NewMutableMessage([]byte("foreign"), message.Properties{interceptors.PropertyTerm: "99", "tag": "foreign"}))
	if err != nil {
		t.Fatal(err)
	}
	after := appendTagged(t, w, "after", 1)[0]

	reader := open(t, memoryOpener(t, store), ch, 0, wal.ReadOnly)
	for _, r := range []struct {
		s    wal.Scanner
		want []message.MessageID
	}{
		{mustRead(t, reader, "all", wal.DeliverAll()), []message.MessageID{before, foreign, after}},
		{mustRead(t, reader, "after-before", wal.StartAfter(before)), []message.MessageID{foreign, after}},
		{mustRead(t, w, "own-all", wal.DeliverAll()), []message.MessageID{before, foreign, after}},
	} {
		expectIDs(t, r.s, after, r.want)
	}
}

// TestOwnClaimFencesScannersWithoutClaimReader: over a driver that cannot
// list claims (memory behind a wrapper that hides ClaimReader), the WAL
// that wrote a fence record still drops lower-term messages stored after
// it in scanners that start past the record.
func TestOwnClaimFencesScannersWithoutClaimReader(t *testing.T) {
	store := memory.NewStore()
	ch := newChannel(t)
	hidden := func() wal.Opener {
		impl, _ := memory.NewBuilder(memory.WithStore(store)).Build()
		o := adaptor.NewOpener(memory.Name, newFaultyOpener(impl, faults{}, 1))
		t.Cleanup(o.Close)
		return o
	}
	zombie := open(t, hidden(), ch, 1, wal.ReadWrite)
	appendTagged(t, zombie, "a", 1)
	owner := open(t, hidden(), ch, 2, wal.ReadWrite)
	b := appendTagged(t, owner, "b", 1)[0]
	appendTagged(t, zombie, "z", 1)
	c := appendTagged(t, owner, "c", 1)[0]
	s := mustRead(t, owner, "after-b", wal.StartAfter(b))
	if got := collectUntil(t, s, c); len(got) != 1 || !got[0].MessageID().EQ(c) {
		t.Fatalf("delivered %v, want only c (%v)", tags(got), c)
	}
}

// TestZombieAppendDuringOpenIsSeenByEveryReader: a zombie's append stored
// after the new term's driver Open but before its fence record is seen
// alike by a scanner opened before the claim (which learns of term 2 from
// the fence record) and by one opened after it (which learns of it from
// the driver's claims).
func TestZombieAppendDuringOpenIsSeenByEveryReader(t *testing.T) {
	store := memory.NewStore()
	ch := newChannel(t)
	zombie := open(t, memoryOpener(t, store), ch, 1, wal.ReadWrite)
	appendTagged(t, zombie, "a", 1)
	early := mustRead(t, open(t, memoryOpener(t, store), ch, 0, wal.ReadOnly), "early", wal.DeliverAll())
	var z message.MessageID
	during := interceptors.BuilderFunc(func(interceptors.Param) interceptors.Interceptor {
		return onOpen(func() { z = appendTagged(t, zombie, "z", 1)[0] })
	})
	owner := open(t, memoryOpener(t, store, adaptor.WithInterceptors(during)), ch, 2, wal.ReadWrite)
	c := appendTagged(t, owner, "c", 1)[0]
	late := mustRead(t, open(t, memoryOpener(t, store), ch, 0, wal.ReadOnly), "late", wal.DeliverAll())
	e, l := tags(collectUntil(t, early, c)), tags(collectUntil(t, late, c))
	if len(e) != len(l) {
		t.Fatalf("early reader delivered %v, late reader %v (z is %v)", e, l, z)
	}
	for i := range e {
		if e[i] != l[i] {
			t.Fatalf("early reader delivered %v, late reader %v (z is %v)", e, l, z)
		}
	}
}

type onOpen func()

func (onOpen) Close() {}
func (f onOpen) OnOpen(context.Context, interceptors.AppendFunc) error {
	f()
	return nil
}

func mustRead(t testing.TB, w wal.WAL, name string, p wal.DeliverPolicy) wal.Scanner {
	t.Helper()
	s, err := w.Read(context.Background(), wal.ReadOption{Name: name, DeliverPolicy: p})
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// expectIDs reads s up to end and checks that it delivered exactly want.
func expectIDs(t testing.TB, s wal.Scanner, end message.MessageID, want []message.MessageID) {
	t.Helper()
	got := collectUntil(t, s, end)
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].MessageID().EQ(want[i])
	}
	if !ok {
		t.Errorf("%s: delivered %v, want %v", s.Name(), tags(got), want)
	}
}

// tags lists the tag property of msgs, for failure messages.
func tags(msgs []message.ImmutableMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Properties()["tag"] + "@" + m.MessageID().String()
	}
	return out
}
