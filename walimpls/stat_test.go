package walimpls_test

import (
	"testing"

	"github.com/mqwal/mqwal/walimpls"
)

func TestWriterStateString(t *testing.T) {
	for s, want := range map[walimpls.WriterState]string{
		walimpls.WriterUnknown: "unknown", walimpls.WriterHeld: "held", walimpls.WriterNone: "none", 7: "WriterState(7)",
	} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(s), got, want)
		}
	}
}
