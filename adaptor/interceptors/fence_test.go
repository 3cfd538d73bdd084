package interceptors_test

import (
	"context"
	"strconv"
	"testing"

	"go.uber.org/zap"

	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
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

func TestFenceHookDropsLowerTermsAfterAHigherOne(t *testing.T) {
	ic := interceptors.Fence{}.Build(interceptors.Param{Channel: wal.Channel{Name: "ch", Term: 2}, Logger: zap.NewNop()})
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
		{stamped("x"), true}, // unparsable: not judged
		{stamped("3"), true}, // a term-3 message fences too
		{stamped("2"), false},
		{stamped(""), true},
	}
	for i, s := range steps {
		if got := hook.Deliver(s.msg); got != s.want {
			t.Errorf("step %d %v: Deliver = %v, want %v", i, s.msg.Properties(), got, s.want)
		}
	}
}

func TestFenceStampsAndWritesFence(t *testing.T) {
	ic := interceptors.Fence{}.Build(interceptors.Param{Channel: wal.Channel{Name: "ch", Term: 7}, Logger: zap.NewNop()})
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

type fakeID int

func (f fakeID) WALName() string              { return "fake" }
func (f fakeID) LT(o message.MessageID) bool  { return f < o.(fakeID) }
func (f fakeID) LTE(o message.MessageID) bool { return f <= o.(fakeID) }
func (f fakeID) EQ(o message.MessageID) bool  { return f == o.(fakeID) }
func (f fakeID) Marshal() string              { return "" }
func (f fakeID) String() string               { return "" }

// FuzzFenceHook: whatever the reserved properties say (they may come from
// another client), the hook never panics, never delivers a fence record, and
// once it delivered a term it never delivers a lower one.
func FuzzFenceHook(f *testing.F) {
	f.Add("1", "", "2", "1")
	f.Add("x", "9", "-3", "99999999999999999999")
	f.Add("", "0", "", "")
	f.Fuzz(func(t *testing.T, t1, fence, t2, t3 string) {
		hook := interceptors.Fence{}.Build(interceptors.Param{Logger: zap.NewNop()}).(interceptors.ReadInterceptor).NewReadHook(wal.ReadOption{})
		msgs := []message.ImmutableMessage{stamped(t1), stamped(t1, interceptors.PropertyFence, fence), stamped(t2), stamped(t3)}
		highest := int64(-1 << 62)
		for i, m := range msgs {
			ok := hook.Deliver(m)
			if interceptors.IsFenceRecord(m) && ok {
				t.Fatalf("message %d: fence record delivered", i)
			}
			if v, err := strconv.ParseInt(m.Properties()[interceptors.PropertyTerm], 10, 64); ok && err == nil && !interceptors.IsFenceRecord(m) {
				if v < highest {
					t.Fatalf("message %d: term %d delivered after term %d", i, v, highest)
				}
				highest = v
			}
		}
	})
}
