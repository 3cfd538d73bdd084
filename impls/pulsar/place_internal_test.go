package pulsar

import "testing"

func TestFollows(t *testing.T) {
	for _, c := range []struct {
		prev, next ID
		want       bool
	}{
		{ID{1, 4, 0}, ID{1, 5, 0}, true},  // next entry
		{ID{1, 4, 0}, ID{1, 6, 0}, false}, // an entry skipped
		{ID{1, 4, 0}, ID{1, 4, 1}, true},  // next message of a batch
		{ID{1, 4, 2}, ID{1, 5, 0}, true},  // after a batch
		{ID{1, 4, 0}, ID{1, 4, 2}, false}, // a batch message skipped
		{ID{1, 4, 0}, ID{1, 5, 1}, false}, // a batch's start skipped
		{ID{1, 4, 0}, ID{3, 0, 0}, true},  // a later ledger starts at 0
		{ID{1, 4, 0}, ID{3, 1, 0}, false}, // a later ledger's first entry skipped
		{ID{3, 0, 0}, ID{1, 5, 0}, false}, // backwards
		{ID{1, 4, 0}, ID{1, 4, 0}, false}, // a repeat
	} {
		if got := follows(c.prev, c.next); got != c.want {
			t.Errorf("follows(%v, %v) = %v, want %v", c.prev, c.next, got, c.want)
		}
	}
}
