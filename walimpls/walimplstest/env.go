package walimplstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// env is one case's view of the backend: an opener, unique channel names,
// and waits bounded by the harness timeout. Everything it opens is closed by
// the case's cleanup.
type env struct {
	r      R
	h      Harness
	ctx    context.Context
	opener walimpls.OpenerImpls
	caps   walimpls.Capabilities
	name   string
}

func newEnv(r R, h Harness) *env {
	r.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.Cleanup(cancel)
	e := &env{r: r, h: h, ctx: ctx}
	e.opener = e.newOpener()
	e.caps = e.opener.Capabilities()
	e.name = caseName(r.Name())
	return e
}

func (e *env) newOpener() walimpls.OpenerImpls {
	e.r.Helper()
	o, err := e.h.NewOpener()
	if err != nil {
		e.r.Fatalf("NewOpener: %v", err)
	}
	e.r.Cleanup(func() { e.within("opener Close", o.Close) })
	return o
}

// channel returns a channel name unique to this run and case.
func (e *env) channel(suffix string) string {
	return e.h.ChannelPrefix + e.name + "-" + suffix
}

func (e *env) openOn(o walimpls.OpenerImpls, ch string, term int64, mode walimpls.AccessMode) walimpls.WALImpls {
	e.r.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, e.h.Timeout)
	defer cancel()
	w, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: term, AccessMode: mode}})
	if err != nil {
		e.r.Fatalf("Open(%s, term %d, %v): %v", ch, term, mode, err)
	}
	e.r.Cleanup(func() { e.within("WAL Close", w.Close) })
	return w
}

func (e *env) open(ch string) walimpls.WALImpls { return e.openOn(e.opener, ch, 1, walimpls.ReadWrite) }

func (e *env) append(w walimpls.WALImpls, payload []byte, props message.Properties) message.MessageID {
	e.r.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, e.h.Timeout)
	defer cancel()
	id, err := w.Append(ctx, message.NewMutableMessage(payload, props))
	if err != nil {
		e.r.Fatalf("Append to %s: %v", w.Channel().Name, err)
	}
	if id == nil {
		e.r.Fatalf("Append to %s returned a nil MessageID and no error", w.Channel().Name)
	}
	return id
}

// appendN appends n messages "<tag>-<i>" and returns their IDs.
func (e *env) appendN(w walimpls.WALImpls, tag string, n int) []message.MessageID {
	e.r.Helper()
	ids := make([]message.MessageID, n)
	for i := range ids {
		ids[i] = e.append(w, fmt.Appendf(nil, "%s-%d", tag, i), message.Properties{"i": fmt.Sprint(i)})
	}
	return ids
}

func (e *env) read(w walimpls.ROWALImpls, p walimpls.DeliverPolicy) walimpls.ScannerImpls {
	e.r.Helper()
	s, err := e.tryRead(w, p)
	if err != nil {
		e.r.Fatalf("Read(%s, %v): %v", w.Channel().Name, p, err)
	}
	return s
}

func (e *env) tryRead(w walimpls.ROWALImpls, p walimpls.DeliverPolicy) (walimpls.ScannerImpls, error) {
	ctx, cancel := context.WithTimeout(e.ctx, e.h.Timeout)
	defer cancel()
	s, err := w.Read(ctx, walimpls.ReadOption{Name: "walimplstest", DeliverPolicy: p})
	if err == nil {
		e.r.Cleanup(func() { e.within("scanner Close", func() { _ = s.Close() }) })
	}
	return s, err
}

// next waits for the scanner's next message; err says the scanner ended
// ("scanner ended: <its Error>") or errTimeout.
func (e *env) next(s walimpls.ScannerImpls, wait time.Duration) (message.ImmutableMessage, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case m, ok := <-s.Chan():
		if !ok {
			return nil, fmt.Errorf("scanner ended: %w", s.Error())
		}
		return m, nil
	case <-t.C:
		return nil, errTimeout
	}
}

var errTimeout = errors.New("timed out waiting for a message")

// collect reads exactly n messages or fails the case.
func (e *env) collect(s walimpls.ScannerImpls, n int) []message.ImmutableMessage {
	e.r.Helper()
	msgs := make([]message.ImmutableMessage, 0, n)
	for len(msgs) < n {
		m, err := e.next(s, e.h.Timeout)
		if err != nil {
			e.r.Fatalf("after %d of %d messages: %v", len(msgs), n, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// expectQuiet fails if the scanner delivers anything within the quiet
// period, or ends: a scanner that stopped is not quiet, it may have stopped
// at a message it should have delivered.
func (e *env) expectQuiet(s walimpls.ScannerImpls, why string) {
	e.r.Helper()
	m, err := e.next(s, e.h.QuietPeriod)
	switch {
	case err == nil:
		e.r.Fatalf("%s: unexpected message %v %q", why, m.MessageID(), clip(m.Payload()))
	case !errors.Is(err, errTimeout):
		e.r.Fatalf("%s: expected an open scanner with nothing to deliver, but the %v", why, err)
	}
}

// expectIDs checks msgs carry exactly ids, in order.
func (e *env) expectIDs(what string, msgs []message.ImmutableMessage, ids []message.MessageID) {
	e.r.Helper()
	if len(msgs) != len(ids) {
		e.r.Fatalf("%s: got %d messages, want %d", what, len(msgs), len(ids))
	}
	for i, m := range msgs {
		if m.MessageID() == nil || !m.MessageID().EQ(ids[i]) {
			e.r.Fatalf("%s: message %d has ID %v, want %v", what, i, m.MessageID(), ids[i])
		}
	}
}

// expectPayloads checks msgs carry exactly payloads, in order.
func (e *env) expectPayloads(what string, msgs []message.ImmutableMessage, payloads ...string) {
	e.r.Helper()
	got := make([]string, len(msgs))
	for i, m := range msgs {
		got[i] = string(clip(m.Payload()))
	}
	if !slices.Equal(got, payloads) {
		e.r.Fatalf("%s delivered %q, want %q", what, got, payloads)
	}
}

// within runs f and fails the case if it does not return within the timeout.
func (e *env) within(what string, f func()) {
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(e.h.Timeout):
		e.r.Errorf("%s did not return within %v", what, e.h.Timeout)
	}
}

// waitDone fails unless the scanner ends within the timeout.
func (e *env) waitDone(s walimpls.ScannerImpls, why string) {
	e.r.Helper()
	select {
	case <-s.Done():
	case <-time.After(e.h.Timeout):
		e.r.Fatalf("%s: scanner did not end within %v", why, e.h.Timeout)
	}
	// Done promises Chan is closed: drain must end at once.
	for range s.Chan() {
	}
}

func (e *env) expectErr(what string, err, want error) {
	e.r.Helper()
	if !errors.Is(err, want) {
		e.r.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func sameContent(m message.ImmutableMessage, payload []byte, props message.Properties) error {
	if !bytes.Equal(m.Payload(), payload) {
		return fmt.Errorf("payload %q, want %q", clip(m.Payload()), clip(payload))
	}
	got := m.Properties()
	if len(got) != len(props) || (len(props) > 0 && !maps.Equal(got, props)) {
		return fmt.Errorf("properties %v, want %v", got, props)
	}
	return nil
}

func clip(b []byte) []byte {
	if len(b) > 48 {
		return append(b[:48:48], "..."...)
	}
	return b
}

// caseName turns "TestX/Case/Sub" into "Case-Sub", a valid channel name part.
func caseName(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return strings.Map(func(c rune) rune {
		if c < 128 && (c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return c
		}
		return '-'
	}, name)
}
