package walimplstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

const ruleFence = "with Fencing, nothing a lower term appends after a higher term's Open returned is stored, " +
	"and the lower term's Append fails with ErrFenced (or, unsure, ErrOutcomeUnknown)"

// testFencing checks what a driver promises about writers of lower terms:
// with Fencing, that they are fenced (checkStrictFence); with
// walimpls.ClaimReader, that it lists the claims a read fence needs
// (checkClaims). A driver with neither is skipped.
func testFencing(r R, h Harness) {
	e := newEnv(r, h)
	checked := e.checkClaims()
	if e.caps.Fencing {
		e.checkStrictFence()
		checked = true
	}
	if !checked {
		r.Skipf("driver neither declares Fencing nor implements walimpls.ClaimReader")
	}
}

// checkStrictFence races a term-1 appender against term 2's Open through
// another opener (another process), then has term 1 append again and
// reopen. Every term-1 append that started after the Open returned must
// fail, none of them may be stored, and the log must read as term 1's
// messages, then term 2's, through any reader.
func (e *env) checkStrictFence() {
	r := e.r
	ch := e.channel("fence")
	hist := NewHistory()
	late := map[string]bool{} // tags of lower-term appends started after term 2 opened
	old := e.openOn(e.opener, ch, 1, walimpls.ReadWrite)
	if _, err := e.histAppend(hist, old, "term1", 0); err != nil {
		r.Fatalf("Append by term 1 before any other term opened: %v", err)
	}

	var opened atomic.Bool
	racing := make(chan struct{}) // closed after the racer's first append
	racerDone := make(chan []*Attempt, 1)
	go func() {
		var lateAttempts []*Attempt
		defer func() { racerDone <- lateAttempts }()
		for seq := 1; seq < 10000 && e.ctx.Err() == nil; seq++ {
			startedLate := opened.Load()
			a, err := e.histAppend(hist, old, "term1", seq)
			if seq == 1 {
				close(racing)
			}
			if startedLate {
				lateAttempts = append(lateAttempts, a)
			}
			if err != nil || startedLate {
				return
			}
		}
	}()
	select {
	case <-racing:
	case <-time.After(e.h.Timeout):
		r.Fatalf("term 1's second Append did not return within %v", e.h.Timeout)
	}
	owner := e.openOn(e.newOpener(), ch, 2, walimpls.ReadWrite)
	opened.Store(true)
	var lateAttempts []*Attempt
	select {
	case lateAttempts = <-racerDone:
	case <-time.After(2 * e.h.Timeout):
		r.Fatalf("term 1's appender did not stop within %v of term 2's Open", 2*e.h.Timeout)
	}

	_, _ = e.histAppend(hist, old, "zombie", 0)
	lateAttempts = append(lateAttempts, hist.attempt(ch+"/zombie/0"))
	if _, err := e.histAppend(hist, owner, "term2", 0); err != nil {
		r.Fatalf("Append by term 2, the owner: %v", err)
	}
	// A writer that comes back with the old term is refused at Open or at its first Append.
	if stale, err := e.opener.Open(e.ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}}); err == nil {
		r.Cleanup(stale.Close)
		_, _ = e.histAppend(hist, stale, "zombie", 1)
		lateAttempts = append(lateAttempts, hist.attempt(ch+"/zombie/1"))
	} else {
		e.expectErr("Open ReadWrite with a lower term", err, walimpls.ErrFenced)
	}
	if _, err := e.histAppend(hist, owner, "term2", 1); err != nil {
		r.Fatalf("Append by term 2 after term 1 tried again: %v", err)
	}
	for _, a := range lateAttempts {
		late[a.Tag] = true
		switch {
		case a.acked():
			r.Errorf("term 1's Append of %s started after term 2's Open returned and was acked as %v: Fencing promises ErrFenced [rule: %s]", a.Tag, a.ID, ruleFence)
		case !errors.Is(a.Err, walimpls.ErrFenced) && !errors.Is(a.Err, walimpls.ErrOutcomeUnknown):
			r.Errorf("term 1's Append of %s after term 2's Open returned %v, want ErrFenced [rule: %s]", a.Tag, a.Err, ruleFence)
		}
	}

	// Every reader sees the same log: from the owner, and from another client.
	acked := hist.Acked()
	most := len(hist.sortedAttempts()) + 1
	readers := []string{"owner", "another opener"}
	for i, w := range []walimpls.ROWALImpls{owner, e.openOn(e.newOpener(), ch, 0, walimpls.ReadOnly)} {
		res := e.readAll(w, walimpls.DeliverAll(), acked, most)
		if res.err != nil {
			r.Errorf("reader %s: %v", readers[i], res.err)
		}
		for _, m := range res.msgs {
			hist.Delivered(readers[i], ch, m)
		}
		e.checkFencedLog(readers[i], res.msgs, hist, late)
	}
	reportProblems(r, hist.Check(readers...))
}

// checkFencedLog fails if msgs holds a lower-term append made after the
// higher term opened, or a term-1 message after a term-2 one.
func (e *env) checkFencedLog(reader string, msgs []message.ImmutableMessage, hist *History, late map[string]bool) {
	e.r.Helper()
	var firstTerm2 message.ImmutableMessage
	for _, m := range msgs {
		tag, _ := m.Properties().Get(TagProperty)
		a := hist.attempt(tag)
		if a == nil {
			continue // History reports it
		}
		if late[tag] {
			e.r.Errorf("reader %s: channel %s, message %s (ID %v), %s: stored after term 2 opened [rule: %s]", reader, a.Channel, tag, m.MessageID(), a.outcome(), ruleFence)
		}
		switch {
		case a.Appender == "term2" && firstTerm2 == nil:
			firstTerm2 = m
		case a.Appender != "term2" && firstTerm2 != nil:
			fTag, _ := firstTerm2.Properties().Get(TagProperty)
			e.r.Errorf("reader %s: channel %s, term 1's message %s (ID %v), %s: read after term 2's %s (ID %v) [rule: %s]",
				reader, a.Channel, tag, m.MessageID(), a.outcome(), fTag, firstTerm2.MessageID(), ruleFence)
		}
	}
}

// histAppend appends appender's seq-th History message to w.
func (e *env) histAppend(hist *History, w walimpls.WALImpls, appender string, seq int) (*Attempt, error) {
	a, msg := hist.NewAttempt(w.Channel().Name, appender, seq)
	ctx, cancel := context.WithTimeout(e.ctx, e.h.Timeout)
	defer cancel()
	id, err := w.Append(ctx, msg)
	if err == nil && id == nil {
		err = errors.New("append returned a nil MessageID and no error")
	}
	hist.Done(a, id, err)
	return a, err
}

// checkClaims checks a walimpls.ClaimReader, and reports whether the
// driver has one: one claim per term, made by the term's first stored
// message, After the message stored before it, oldest first, the same
// through every WAL and opener. Reopening a term and appending again,
// opening a lower term or opening ReadOnly adds none. (A claim made at
// Open, After the newest message then, would let a lower term store in
// between; a scanner opened before the claim delivers that message, one
// opened after drops it.)
func (e *env) checkClaims() bool {
	r := e.r
	ch := e.channel("claims")
	first := e.openOn(e.opener, ch, 1, walimpls.ReadWrite)
	if _, ok := first.(walimpls.ClaimReader); !ok {
		return false
	}
	want := []walimpls.Claim{{Term: 1}}
	ids := e.appendN(first, "c1", 2)

	other := e.newOpener()
	second := e.openOn(other, ch, 2, walimpls.ReadWrite)
	// Without Fencing the lower term still writes; its message is newer,
	// and term 2 has stored nothing yet.
	after := ids[1]
	if id, err := first.Append(e.ctx, message.NewMutableMessage([]byte("c1-zombie"), nil)); err == nil {
		after = id
	} else if !errors.Is(err, walimpls.ErrFenced) {
		r.Fatalf("Append by term 1 after term 2 opened: %v, want success (no Fencing) or ErrFenced", err)
	}
	e.append(second, []byte("c2-0"), nil)
	want = append(want, walimpls.Claim{Term: 2, After: after})

	e.within("WAL Close", second.Close)
	newest := e.append(e.openOn(other, ch, 2, walimpls.ReadWrite), []byte("c2-1"), nil)
	e.openOn(other, ch, 0, walimpls.ReadOnly)
	if w, err := e.opener.Open(e.ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}}); err == nil {
		r.Cleanup(w.Close)
	} else {
		e.expectErr("Open ReadWrite with a lower term", err, walimpls.ErrFenced)
	}
	third := e.openOn(e.opener, ch, 3, walimpls.ReadWrite)
	e.append(third, []byte("c3-0"), nil)
	want = append(want, walimpls.Claim{Term: 3, After: newest})

	for what, w := range map[string]walimpls.ROWALImpls{
		"the newest writer":              third,
		"a ReadOnly WAL of a new opener": e.openOn(e.newOpener(), ch, 0, walimpls.ReadOnly),
	} {
		got, err := w.(walimpls.ClaimReader).Claims(e.ctx)
		if err != nil {
			r.Errorf("Claims through %s: %v", what, err)
			continue
		}
		if !sameClaims(got, want) {
			r.Errorf("Claims through %s = %s, want %s (one per term, made by its first stored message, After the message before it, oldest first)",
				what, formatClaims(got), formatClaims(want))
		}
	}
	return true
}

func sameClaims(got, want []walimpls.Claim) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Term != want[i].Term || !sameID(got[i].After, want[i].After) {
			return false
		}
	}
	return true
}

func formatClaims(cs []walimpls.Claim) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("{term %d after %v}", c.Term, c.After)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
