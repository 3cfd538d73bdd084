package walimplstest

import (
	"sort"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls/helper"
)

func id(v int64) message.MessageID { return helper.NewInt64ID("hist", v) }

func TestHistoryNamesEachProblem(t *testing.T) {
	h := NewHistory()
	var msgs []message.MutableMessage
	var attempts []*Attempt
	for seq := range 4 {
		a, m := h.NewAttempt("ch", "a0", seq)
		attempts, msgs = append(attempts, a), append(msgs, m)
	}
	for i, a := range attempts[:3] {
		h.Done(a, id(int64(i)), nil) // acked 0, 1, 2; attempt 3 failed
	}
	_, phantom := NewHistory().NewAttempt("ch", "ghost", 0)
	deliver := func(reader string, m message.MutableMessage, v int64) {
		h.Delivered(reader, "ch", m.IntoImmutable(id(v), "ch"))
	}
	deliver("r", msgs[0], 0)
	deliver("r", msgs[0], 0) // duplicated
	deliver("r", msgs[2], 2) // message 1 lost
	deliver("r", phantom, 3) // never appended
	deliver("r", msgs[1], 1) // reordered: ID 1 after 3
	h.Delivered("r", "ch", message.NewMutableMessage([]byte("changed"), attempts[3].Props.Clone()).IntoImmutable(id(5), "ch"))
	deliver("r2", msgs[2], 9) // acked as 2

	problems := h.Check("r", "r2")
	kinds := map[string]int{}
	for _, p := range problems {
		kinds[p.Kind]++
		t.Log(p)
	}
	for _, want := range []string{"duplicated", "lost", "phantom", "reordered", "corrupted", "misplaced"} {
		if kinds[want] == 0 {
			t.Errorf("no %q problem found; got %v", want, kinds)
		}
	}

	clean := NewHistory()
	a, m := clean.NewAttempt("ch", "a0", 0)
	clean.Done(a, id(7), nil)
	if p := clean.Check("missing-reader"); len(p) != 1 || p[0].Kind != "lost" {
		t.Errorf("a reader that delivered nothing: got %v, want one lost", p)
	}
	clean.Delivered("ok", "ch", m.IntoImmutable(id(7), "ch"))
	if p := clean.Check("ok"); len(p) != 0 {
		t.Errorf("a correct history has problems: %v", p)
	}
}

func TestHistoryAppenderOrder(t *testing.T) {
	h := NewHistory()
	a0, _ := h.NewAttempt("ch", "a", 0)
	a1, _ := h.NewAttempt("ch", "a", 1)
	h.Done(a0, id(5), nil)
	h.Done(a1, id(4), nil)
	var kinds []string
	for _, p := range h.Check() {
		kinds = append(kinds, p.Kind)
	}
	sort.Strings(kinds)
	if len(kinds) != 1 || kinds[0] != "reordered" {
		t.Fatalf("an appender acked out of order: got %v, want one reordered", kinds)
	}
}
