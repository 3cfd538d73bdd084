package walimplstest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
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

// An append error is "not stored" unless it wraps ErrOutcomeUnknown: such a
// message read is a problem; an unknown outcome may be read, but once.
func TestHistoryChecksErrorOutcomes(t *testing.T) {
	h := NewHistory()
	deliver := func(reader string, m message.MutableMessage, v int64) {
		h.Delivered(reader, "ch", m.IntoImmutable(id(v), "ch"))
	}
	acked, m0 := h.NewAttempt("ch", "a", 0)
	h.Done(acked, id(0), nil)
	retryable, m1 := h.NewAttempt("ch", "a", 1)
	h.Done(retryable, nil, fmt.Errorf("%w: broker said no", walimpls.ErrUnavailable))
	fenced, m2 := h.NewAttempt("ch", "a", 2)
	h.Done(fenced, nil, fmt.Errorf("%w: term 1 < 2", walimpls.ErrFenced))
	unknown, m3 := h.NewAttempt("ch", "a", 3)
	h.Done(unknown, nil, fmt.Errorf("%w: timed out after sending: %w", walimpls.ErrOutcomeUnknown, walimpls.ErrUnavailable))
	unknownTwice, m4 := h.NewAttempt("ch", "a", 4)
	h.Done(unknownTwice, nil, fmt.Errorf("%w: connection lost", walimpls.ErrOutcomeUnknown))

	deliver("r", m0, 0)
	deliver("r", m1, 1)
	deliver("r", m2, 2)
	deliver("r", m3, 3)
	deliver("r", m4, 4)
	deliver("r", m4, 5)

	var got []string
	for _, p := range h.Check("r") {
		got = append(got, p.Kind+" "+p.Tag)
		s := p.String()
		t.Log(s)
		for _, want := range []string{p.Channel, p.Tag, p.Outcome, p.Rule} {
			if !strings.Contains(s, want) {
				t.Errorf("problem %q does not name %q", s, want)
			}
		}
	}
	want := []string{"stored-despite-error ch/a/1", "stored-despite-error ch/a/2", "duplicated ch/a/4"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("problems %q, want %q", got, want)
	}
}

// Complete readers of one channel must read the same messages, position by
// position, as far as both read.
func TestHistoryComparesReaders(t *testing.T) {
	h := NewHistory()
	var msgs []message.MutableMessage
	for seq, v := range []int64{0, 2, 3} { // the unknown outcome is stored as 1
		a, m := h.NewAttempt("ch", "a", seq)
		h.Done(a, id(v), nil)
		msgs = append(msgs, m)
	}
	maybe, unknown := h.NewAttempt("ch", "b", 0)
	h.Done(maybe, nil, fmt.Errorf("%w: lost response", walimpls.ErrOutcomeUnknown))
	deliver := func(reader string, m message.MutableMessage, v int64) {
		h.Delivered(reader, "ch", m.IntoImmutable(id(v), "ch"))
	}
	for _, r := range []string{"one", "two", "short"} {
		deliver(r, msgs[0], 0)
	}
	deliver("one", unknown, 1) // only reader one sees the maybe-stored message
	deliver("one", msgs[1], 2)
	deliver("one", msgs[2], 3)
	deliver("two", msgs[1], 2)
	deliver("two", msgs[2], 3)

	if p := h.Check("two", "short"); len(p) != 2 || p[0].Kind != "lost" || p[1].Kind != "lost" {
		t.Errorf("a reader that stopped early agrees with the others as far as it read: got %v, want two lost", p)
	}
	p := h.Check("one", "two")
	if len(p) != 1 || p[0].Kind != "diverged" || p[0].Reader != "two" || p[0].Tag != "ch/b/0" {
		t.Fatalf("readers that disagree: got %v, want one diverged: reader two did not read ch/b/0", p)
	}
}
