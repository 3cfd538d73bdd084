package helper

import (
	"errors"
	"testing"

	"github.com/mqwal/mqwal/walimpls"
)

func TestLifetimeClosesChildrenOnce(t *testing.T) {
	var l Lifetime
	closed := 0
	var remove func()
	remove, err := l.Add("x", func() { closed++; remove() }) // a child may unregister while closing
	if err != nil {
		t.Fatal(err)
	}
	removed, _ := l.Add("y", func() { t.Error("a removed child was closed") })
	removed()
	if !l.Close() || l.Close() {
		t.Fatal("Close must report true exactly once")
	}
	if closed != 1 {
		t.Fatalf("child closed %d times", closed)
	}
	if _, err := l.Add("z", func() {}); !errors.Is(err, walimpls.ErrClosed) {
		t.Fatalf("Add after Close = %v", err)
	}
	if err := l.Check("w"); !errors.Is(err, walimpls.ErrClosed) {
		t.Fatalf("Check after Close = %v", err)
	}
}
