package interceptors_test

import (
	"context"
	"math"
	"strconv"
	"testing"

	"log/slog"

	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

func stamped(term string, extra ...string) message.ImmutableMessage {
	p := message.Properties{}
	if term != "" {
		p[interceptors.PropertyTerm] = term
	}
	if len(extra) == 2 {
		p[extra[0]] = extra[1]
	}
	return message.NewImmutableMessage(nil, "ch", nil, p)
}

// TestFenceHookDropsLowerTermsAfterAFenceRecord: fence records raise the
// floor; a message's own term never does.
func TestFenceHookDropsLowerTermsAfterAFenceRecord(t *testing.T) {
	ic := interceptors.Fence{}.Build(interceptors.Param{Channel: wal.Channel{Name: "ch", Term: 2}, Logger: slog.New(slog.DiscardHandler)})
	hook := ic.(interceptors.ReadInterceptor).NewReadHook(wal.ReadOption{})
	steps := []struct {
		msg  message.ImmutableMessage
		want bool
	}{
		{stamped("1"), true},
		{stamped(""), true}, // not written by mqwal
		{stamped("1", interceptors.PropertyFence, "1"), false}, // fence records are never delivered
		{stamped("1"), true},
		{stamped("2", interceptors.PropertyFence, "2"), false},
		{stamped("1"), false}, // zombie after term 2's fence
		{stamped("2"), true},
		{stamped("x"), true},  // unparsable: not judged
		{stamped("99"), true}, // above the floor without a fence record: delivered...
		{stamped("2"), true},  // ...and the floor stays at 2
		{stamped("1"), false},
		{stamped(""), true},
	}
	for i, s := range steps {
		if got := hook.Deliver(s.msg); got != s.want {
			t.Errorf("step %d %v: Deliver = %v, want %v", i, s.msg.Properties(), got, s.want)
		}
	}
}

func TestFenceStampsAndWritesFence(t *testing.T) {
	ic := interceptors.Fence{}.Build(interceptors.Param{Channel: wal.Channel{Name: "ch", Term: 7}, Logger: slog.New(slog.DiscardHandler)})
	var seen []message.Properties
	next := func(_ context.Context, m message.MutableMessage) (*wal.AppendResult, error) {
		seen = append(seen, m.Properties())
		return &wal.AppendResult{MessageID: fakeID(len(seen))}, nil
	}
	res, err := ic.(interceptors.AppendInterceptor).DoAppend(context.Background(), message.NewMutableMessage(nil, message.Properties{"a": "b"}), next)
	if err != nil || res.Term != 7 {
		t.Fatalf("DoAppend: %v, %+v", err, res)
	}
	if seen[0][interceptors.PropertyTerm] != "7" || seen[0]["a"] != "b" {
		t.Fatalf("stamped properties %v", seen[0])
	}
	chain := func(ctx context.Context, m message.MutableMessage) (*wal.AppendResult, error) {
		return ic.(interceptors.AppendInterceptor).DoAppend(ctx, m, next)
	}
	if err := ic.(interceptors.OpenInterceptor).OnOpen(context.Background(), chain); err != nil {
		t.Fatal(err)
	}
	if seen[1][interceptors.PropertyFence] != "7" || seen[1][interceptors.PropertyTerm] != "7" {
		t.Fatalf("fence record properties %v", seen[1])
	}
}

// at is a message with ID id.
func at(id int, term string, extra ...string) message.ImmutableMessage {
	m := stamped(term, extra...)
	return message.NewImmutableMessage(fakeID(id), "ch", nil, m.Properties())
}

func newHook(t *testing.T, term int64, claims ...walimpls.Claim) interceptors.ReadHook {
	t.Helper()
	ic := interceptors.Fence{}.Build(interceptors.Param{Channel: wal.Channel{Name: "ch", Term: term}, Logger: slog.New(slog.DiscardHandler)})
	h := ic.(interceptors.ReadInterceptor).NewReadHook(wal.ReadOption{})
	if len(claims) > 0 {
		h.(interceptors.ClaimSeeder).SeedClaims(claims)
	}
	return h
}

// TestFenceHookClaims: a claim applies from its After on, in ID order,
// whatever order the claims come in; the highest passed claim wins.
func TestFenceHookClaims(t *testing.T) {
	h := newHook(t, 0,
		walimpls.Claim{Term: 3, After: fakeID(20)},
		walimpls.Claim{Term: 2, After: fakeID(10)},
		walimpls.Claim{Term: 1},                    // from the start
		walimpls.Claim{Term: 1, After: fakeID(30)}, // lower than what is passed: no effect
	)
	steps := []struct {
		msg  message.ImmutableMessage
		want bool
	}{
		{at(1, "0"), false}, // claim 1 applies from the start
		{at(2, "1"), true},
		{at(10, "1"), true},  // After itself is not covered
		{at(11, "1"), false}, // claim 2
		{at(12, "2"), true},
		{at(21, "2"), false}, // claim 3
		{at(31, "3"), true},
		{at(32, "2"), false},
	}
	for i, s := range steps {
		if got := h.Deliver(s.msg); got != s.want {
			t.Errorf("step %d (id %v, %v): Deliver = %v, want %v", i, s.msg.MessageID(), s.msg.Properties(), got, s.want)
		}
	}
}

// TestFenceOwnClaim: once a WAL wrote its fence record, its scanners drop
// lower terms stored after the record even if they start past it.
func TestFenceOwnClaim(t *testing.T) {
	ic := interceptors.Fence{}.Build(interceptors.Param{Channel: wal.Channel{Name: "ch", Term: 5}, Logger: slog.New(slog.DiscardHandler)})
	before := ic.(interceptors.ReadInterceptor).NewReadHook(wal.ReadOption{})
	next := func(context.Context, message.MutableMessage) (*wal.AppendResult, error) {
		return &wal.AppendResult{MessageID: fakeID(7)}, nil
	}
	if err := ic.(interceptors.OpenInterceptor).OnOpen(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	after := ic.(interceptors.ReadInterceptor).NewReadHook(wal.ReadOption{})
	if !after.Deliver(at(6, "4")) {
		t.Error("a term-4 message before the fence record was dropped")
	}
	if after.Deliver(at(8, "4")) {
		t.Error("a term-4 message after the fence record was delivered")
	}
	if !before.Deliver(at(8, "4")) {
		t.Error("a hook made before the fence record was written knows its claim")
	}
}

type fakeID int

func (f fakeID) WALName() string              { return "fake" }
func (f fakeID) LT(o message.MessageID) bool  { return f < o.(fakeID) }
func (f fakeID) LTE(o message.MessageID) bool { return f <= o.(fakeID) }
func (f fakeID) EQ(o message.MessageID) bool  { return f == o.(fakeID) }
func (f fakeID) Marshal() string              { return "" }
func (f fakeID) String() string               { return "" }

// FuzzFenceHook: whatever the reserved properties say (they may come from
// another client), the hook never panics, never delivers a fence record,
// never delivers a term below a fence record or a passed claim, and never
// drops a term at or above both.
func FuzzFenceHook(f *testing.F) {
	f.Add("1", "", "2", "1", int64(0), 0)
	f.Add("x", "9", "-3", "99999999999999999999", int64(5), 2)
	f.Add("", "0", "", "", int64(-1), -1)
	f.Add("99", "2", "2", "3", int64(3), 3)
	f.Fuzz(func(t *testing.T, t1, fence, t2, t3 string, claimTerm int64, claimAfter int) {
		var claims []walimpls.Claim
		if claimAfter >= 0 {
			claims = append(claims, walimpls.Claim{Term: claimTerm, After: fakeID(claimAfter)})
		}
		hook := interceptors.Fence{}.Build(interceptors.Param{Logger: slog.New(slog.DiscardHandler)}).(interceptors.ReadInterceptor).NewReadHook(wal.ReadOption{})
		hook.(interceptors.ClaimSeeder).SeedClaims(claims)
		msgs := []message.ImmutableMessage{at(1, t1), at(2, t1, interceptors.PropertyFence, fence), at(3, t2), at(4, t3)}
		floor := int64(math.MinInt64)
		for i, m := range msgs {
			if claimAfter >= 0 && claimAfter < i+1 {
				floor = max(floor, claimTerm)
			}
			ok := hook.Deliver(m)
			if interceptors.IsFenceRecord(m) {
				if ok {
					t.Fatalf("message %d: fence record delivered", i)
				}
				if v, err := strconv.ParseInt(fence, 10, 64); err == nil {
					floor = max(floor, v)
				}
				continue
			}
			v, err := strconv.ParseInt(m.Properties()[interceptors.PropertyTerm], 10, 64)
			if want := err != nil || v >= floor; ok != want {
				t.Fatalf("message %d (%v): delivered %v, want %v (floor %d)", i, m.Properties(), ok, want, floor)
			}
		}
	})
}
