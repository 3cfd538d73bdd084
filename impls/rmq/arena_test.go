package rmq

import (
	"bytes"
	"testing"
)

func TestPayloadArenaCopiesDoNotShareWritableRoom(t *testing.T) {
	var a payloadArena
	x := a.copy([]byte("first"))
	y := a.copy([]byte("second"))
	if string(x) != "first" || string(y) != "second" {
		t.Fatalf("copies = %q, %q", x, y)
	}
	if cap(x) != len(x) {
		t.Fatalf("a copy has cap %d beyond its length %d: an append would write over the next payload", cap(x), len(x))
	}
	if x = append(x, "!!!"...); string(x) != "first!!!" || string(y) != "second" {
		t.Fatalf("after an append to one copy: %q, %q", x, y)
	}
}

func TestPayloadArenaOwnsItsBytes(t *testing.T) {
	var a payloadArena
	src := []byte("payload")
	got := a.copy(src)
	src[0] = 'X'
	if string(got) != "payload" {
		t.Fatalf("copy follows its source: %q", got)
	}
}

func TestPayloadArenaEdges(t *testing.T) {
	var a payloadArena
	if got := a.copy(nil); got != nil {
		t.Fatalf("copy of an empty payload = %v, want nil", got)
	}
	big := bytes.Repeat([]byte{7}, arenaMaxShared+1)
	got := a.copy(big)
	if !bytes.Equal(got, big) || cap(a.block) != 0 {
		t.Fatalf("a payload above arenaMaxShared went into a shared block (block cap %d)", cap(a.block))
	}
	// Payloads that do not fit what is left start a new block and stay intact.
	var all [][]byte
	for i := range 3 * arenaBlock / arenaMaxShared {
		p := bytes.Repeat([]byte{byte(i)}, arenaMaxShared)
		all = append(all, a.copy(p))
	}
	for i, p := range all {
		if len(p) != arenaMaxShared || p[0] != byte(i) || p[len(p)-1] != byte(i) {
			t.Fatalf("payload %d damaged", i)
		}
	}
}
