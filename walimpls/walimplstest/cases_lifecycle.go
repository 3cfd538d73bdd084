package walimplstest

import (
	"context"
	"errors"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

func testCloseSemantics(r R, h Harness) {
	e := newEnv(r, h)
	ch := e.channel("close")
	w := e.open(ch)
	id := e.append(w, []byte("c"), nil)

	// A scanner closed by its consumer ends with a nil Error.
	own := e.read(w, walimpls.DeliverAll())
	e.collect(own, 1)
	e.within("scanner Close", func() {
		if err := own.Close(); err != nil {
			r.Errorf("scanner Close: %v", err)
		}
	})
	e.waitDone(own, "scanner after its Close")
	e.within("second scanner Close", func() { _ = own.Close() })
	if err := own.Error(); err != nil {
		r.Errorf("scanner Error after Close = %v, want nil", err)
	}

	// Closing the WAL ends its scanners, with ErrClosed.
	tail := e.read(w, walimpls.DeliverLatest())
	e.within("WAL Close", w.Close)
	e.waitDone(tail, "scanner of a closed WAL")
	e.expectErr("Error of a scanner whose WAL closed", tail.Error(), walimpls.ErrClosed)
	e.within("second WAL Close", w.Close)
	e.expectErr("Append after Close", appendErr(e.ctx, w, message.NewMutableMessage([]byte("x"), nil)), walimpls.ErrClosed)
	e.expectErr("Truncate after Close", w.Truncate(e.ctx, id), walimpls.ErrClosed)
	_, err := w.Read(e.ctx, walimpls.ReadOption{})
	e.expectErr("Read after Close", err, walimpls.ErrClosed)

	// Read and Open honour their context.
	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	w2 := e.open(ch)
	if s, err := w2.Read(cancelled, walimpls.ReadOption{}); !errors.Is(err, context.Canceled) {
		if err == nil {
			_ = s.Close()
		}
		r.Errorf("Read with a cancelled context: got %v, want context.Canceled", err)
	}
	if w, err := e.opener.Open(cancelled, &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}}); !errors.Is(err, context.Canceled) {
		if err == nil {
			w.Close()
		}
		r.Errorf("Open with a cancelled context: got %v, want context.Canceled", err)
	}

	// One writer at a time: backends with exclusive producers refuse a
	// second ReadWrite WAL of a channel while the first is open.
	e.within("WAL Close", w2.Close)

	// Closing the opener closes its WALs and their scanners.
	o := e.newOpener()
	w3 := e.openOn(o, ch, 1, walimpls.ReadWrite)
	s3 := e.read(w3, walimpls.DeliverLatest())
	e.within("opener Close", o.Close)
	e.waitDone(s3, "scanner of a closed opener")
	e.expectErr("Error of a scanner whose opener closed", s3.Error(), walimpls.ErrClosed)
	e.expectErr("Append on a WAL of a closed opener", appendErr(e.ctx, w3, message.NewMutableMessage([]byte("x"), nil)), walimpls.ErrClosed)
	_, err = o.Open(e.ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}})
	e.expectErr("Open on a closed opener", err, walimpls.ErrClosed)
	e.within("second opener Close", o.Close)
}

func testMessageTooLarge(r R, h Harness) {
	e := newEnv(r, h)
	limit := e.caps.MaxMessageSize
	if limit <= 0 {
		r.Skipf("driver declares no MaxMessageSize")
	}
	w := e.open(e.channel("large"))
	tooBig := message.NewMutableMessage(make([]byte, limit+1), nil)
	e.expectErr("Append of MaxMessageSize+1 bytes", appendErr(e.ctx, w, tooBig), walimpls.ErrMessageTooLarge)
	// Properties count toward the limit too.
	withProps := message.NewMutableMessage(make([]byte, limit-4), message.Properties{"key": "value"})
	e.expectErr("Append of a message whose properties cross the limit", appendErr(e.ctx, w, withProps), walimpls.ErrMessageTooLarge)

	id := e.append(w, []byte("small"), nil)
	s := e.read(w, walimpls.DeliverAll())
	e.expectIDs("channel after refused large messages", e.collect(s, 1), []message.MessageID{id})
	e.expectQuiet(s, "channel after refused large messages")
}

func testLatestID(r R, h Harness) {
	e := newEnv(r, h)
	w := e.open(e.channel("latest"))
	lr, ok := w.(walimpls.LatestIDReader)
	if !ok {
		r.Skipf("driver does not implement walimpls.LatestIDReader")
	}
	// A driver may store records of its own on open (a fence), so a fresh
	// channel's LatestID is nil or an ID before the first append.
	fresh, err := lr.LatestID(e.ctx)
	if err != nil {
		r.Fatalf("LatestID of a fresh channel: %v", err)
	}
	ids := e.appendN(w, "l", 3)
	if fresh != nil && !fresh.LT(ids[0]) {
		r.Fatalf("LatestID before any append was %v, not before the first append's %v", fresh, ids[0])
	}
	if id, err := lr.LatestID(e.ctx); err != nil || id == nil || !id.EQ(ids[2]) {
		r.Fatalf("LatestID after three appends = %v, %v; want %v", id, err, ids[2])
	}
	if err := w.Truncate(e.ctx, ids[2]); err != nil {
		r.Fatalf("Truncate(%v): %v", ids[2], err)
	}
	// Truncation keeps the newest ID (a driver may store a record of its
	// own, so it may also move forward).
	latest, err := lr.LatestID(e.ctx)
	if err != nil || latest == nil || latest.LT(ids[2]) {
		r.Fatalf("LatestID after truncating everything = %v, %v; want %v or later", latest, err, ids[2])
	}
	// StartAfter(LatestID) is what the adaptor reads for DeliverLatest.
	s := e.read(w, walimpls.StartAfter(latest))
	next := e.append(w, []byte("l-3"), nil)
	e.expectIDs("StartAfter(LatestID)", e.collect(s, 1), []message.MessageID{next})
}
