package rmq

import (
	"errors"
	"testing"
)

// A token passed before any committer waits is kept for the first one.
func TestGroupTurnPassBeforeAwait(t *testing.T) {
	g := newGroupTurn()
	g.pass()
	if g.flushed() {
		t.Fatal("a group that was passed the token reads as flushed")
	}
	if g.await() {
		t.Fatal("await after pass reported the group flushed, want the token")
	}
}

func TestGroupTurnFinish(t *testing.T) {
	g := newGroupTurn()
	boom := errors.New("boom")
	g.finish(boom)
	if !g.flushed() || !g.await() || !errors.Is(g.err, boom) {
		t.Fatalf("after finish: flushed %v, err %v", g.flushed(), g.err)
	}
}
