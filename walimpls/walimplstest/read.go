package walimplstest

import (
	"context"
	"fmt"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// ReadN opens a scanner on w at p, reads exactly n messages, each within
// the harness's default timeout, and closes the scanner. With quiet > 0 it
// then fails if another message arrives within quiet, or if the scanner
// ends instead (an ended scanner is not a quiet one). It is the read-back
// step a driver's own tests (faults, interop, recovery) need beside the
// harness, so they fail with the same messages the cases do.
func ReadN(r R, w walimpls.ROWALImpls, p walimpls.DeliverPolicy, n int, quiet time.Duration) []message.ImmutableMessage {
	r.Helper()
	h := Harness{}.withDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	s, err := w.Read(ctx, walimpls.ReadOption{Name: "walimplstest.ReadN", DeliverPolicy: p})
	cancel()
	if err != nil {
		r.Fatalf("Read(%s, %v): %v", w.Channel().Name, p, err)
	}
	defer s.Close()
	e := &env{r: r, h: h}
	msgs := e.collect(s, n)
	if quiet > 0 {
		e.h.QuietPeriod = quiet
		e.expectQuiet(s, fmt.Sprintf("after the %d expected messages", n))
	}
	return msgs
}
