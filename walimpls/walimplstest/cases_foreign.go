package walimplstest

import (
	"context"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// testForeignRecords checks, where Harness.ForeignAppend can write to a
// channel as another client, that such records are delivered in their
// place between the writer's own appends and after the last of them: to a
// scanner of the channel's ReadWrite WAL that has caught up (through the
// adaptor, the one its write-ahead cache could feed), and to a ReadOnly
// one. A driver whose channels others can write to must not declare
// ExclusiveLog: the adaptor would feed its writer's scanners from the
// write-ahead cache and skip those records.
func testForeignRecords(r R, h Harness) {
	e := newEnv(r, h)
	if e.caps.ExclusiveLog {
		r.Errorf("the driver declares ExclusiveLog, yet Harness.ForeignAppend writes to its channels")
	}
	ch := e.channel("foreign")
	w := e.open(ch)
	s := e.read(w, walimpls.DeliverAll())
	ro := e.read(e.openOn(e.opener, ch, 0, walimpls.ReadOnly), walimpls.DeliverAll())
	foreign := func(payload string) {
		r.Helper()
		ctx, cancel := context.WithTimeout(e.ctx, h.Timeout)
		defer cancel()
		if err := h.ForeignAppend(ctx, ch, []byte(payload)); err != nil {
			r.Fatalf("ForeignAppend(%s, %q): %v", ch, payload, err)
		}
	}
	var all []string
	// Each step's records come after the scanner delivered the previous
	// step's, so it has caught up with the writer whenever a foreign
	// record is stored.
	for _, step := range [][]string{{"m1"}, {"f1", "m2"}, {"f2", "m3"}, {"f3"}} {
		for _, p := range step {
			if p[0] == 'f' {
				foreign(p)
			} else {
				e.append(w, []byte(p), nil)
			}
		}
		e.expectPayloads("the writer's scanner", e.collect(s, len(step)), step...)
		all = append(all, step...)
	}
	e.expectQuiet(s, "the writer's scanner after every record")
	e.expectPayloads("a ReadOnly scanner", e.collect(ro, len(all)), all...)
	e.expectQuiet(ro, "a ReadOnly scanner after every record")
}

// AppendThrough returns a Harness.ForeignAppend that stores each record
// through a WAL of a new opener from newOpener, opened ReadWrite with term
// 0 and closed after the append: a second client of the backend, for a
// harness that presents a driver (or the adaptor over it) as one whose
// channels others write to.
func AppendThrough(newOpener func() (walimpls.OpenerImpls, error)) func(ctx context.Context, channel string, payload []byte) error {
	return func(ctx context.Context, channel string, payload []byte) error {
		o, err := newOpener()
		if err != nil {
			return err
		}
		defer o.Close()
		w, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: channel}})
		if err != nil {
			return err
		}
		_, err = w.Append(ctx, message.NewMutableMessage(payload, nil))
		return err
	}
}
