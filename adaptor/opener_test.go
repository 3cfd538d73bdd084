package adaptor

import (
	"testing"

	"github.com/mqwal/mqwal/walimpls"
)

// The write-ahead cache feeds a WAL's scanners its own appends, so it is
// used only where nothing else writes to a channel's log (ExclusiveLog),
// even when asked for; by default only where the channel also has one
// writer at a time (Fencing).
func TestCacheSize(t *testing.T) {
	const asked = 1 << 20
	for _, c := range []struct {
		name  string
		caps  walimpls.Capabilities
		asked int
		want  int
	}{
		{"rmq default", walimpls.Capabilities{Fencing: true, ExclusiveLog: true}, -1, DefaultWriteAheadCache},
		{"rmq asked", walimpls.Capabilities{Fencing: true, ExclusiveLog: true}, asked, asked},
		{"rmq off", walimpls.Capabilities{Fencing: true, ExclusiveLog: true}, 0, 0},
		{"memory default", walimpls.Capabilities{ExclusiveLog: true}, -1, 0},
		{"memory asked", walimpls.Capabilities{ExclusiveLog: true}, asked, asked},
		{"kafka default", walimpls.Capabilities{Fencing: true}, -1, 0},
		{"kafka asked", walimpls.Capabilities{Fencing: true}, asked, 0},
		{"unknown driver asked", walimpls.Capabilities{}, asked, 0},
	} {
		if got := cacheSize(c.asked, c.caps); got != c.want {
			t.Errorf("%s: cacheSize(%d, %+v) = %d, want %d", c.name, c.asked, c.caps, got, c.want)
		}
	}
}
