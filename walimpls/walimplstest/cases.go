package walimplstest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// foreignID is an ID of no real backend, to check that drivers refuse IDs
// that are not theirs.
type foreignID struct{}

func (foreignID) WALName() string            { return "walimplstest-foreign" }
func (foreignID) LT(message.MessageID) bool  { return false }
func (foreignID) LTE(message.MessageID) bool { return false }
func (foreignID) EQ(message.MessageID) bool  { return false }
func (foreignID) Marshal() string            { return "foreign" }
func (foreignID) String() string             { return "foreign" }

func testOptionValidation(r R, h Harness) {
	e := newEnv(r, h)
	bad := map[string]*walimpls.OpenOption{
		"nil option":    nil,
		"empty name":    {Channel: walimpls.Channel{Name: ""}},
		"name with '/'": {Channel: walimpls.Channel{Name: "a/b"}},
		"long name":     {Channel: walimpls.Channel{Name: strings.Repeat("x", walimpls.MaxChannelNameLen+1)}},
		"negative term": {Channel: walimpls.Channel{Name: e.channel("t"), Term: -1}},
		"unknown mode":  {Channel: walimpls.Channel{Name: e.channel("m"), AccessMode: 42}},
	}
	for what, opt := range bad {
		w, err := e.opener.Open(e.ctx, opt)
		if err == nil {
			w.Close()
		}
		e.expectErr("Open with "+what, err, walimpls.ErrInvalidArgument)
	}

	ch := e.channel("a")
	w := e.open(ch)
	e.expectErr("Append(nil)", appendErr(e.ctx, w, nil), walimpls.ErrInvalidArgument)
	e.expectErr("Truncate(nil)", w.Truncate(e.ctx, nil), walimpls.ErrInvalidArgument)
	e.expectErr("Truncate(foreign ID)", w.Truncate(e.ctx, foreignID{}), walimpls.ErrInvalidArgument)
	for what, opt := range map[string]walimpls.ReadOption{
		"StartFrom(nil)":         {DeliverPolicy: walimpls.StartFrom(nil)},
		"StartAfter(foreign ID)": {DeliverPolicy: walimpls.StartAfter(foreignID{})},
		"negative read-ahead":    {ReadAheadBufferSize: -1},
	} {
		s, err := w.Read(e.ctx, opt)
		if err == nil {
			_ = s.Close()
		}
		e.expectErr("Read with "+what, err, walimpls.ErrInvalidArgument)
	}
	// Bad input changes nothing: the channel holds exactly what is appended now.
	id := e.append(w, []byte("only"), nil)
	s := e.read(w, walimpls.DeliverAll())
	e.expectIDs("channel after refused calls", e.collect(s, 1), []message.MessageID{id})
	e.expectQuiet(s, "channel after refused calls")
}

func appendErr(ctx context.Context, w walimpls.WALImpls, msg message.MutableMessage) error {
	_, err := w.Append(ctx, msg)
	return err
}

func testRoundTrip(r R, h Harness) {
	e := newEnv(r, h)
	w := e.open(e.channel("rt"))
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	type msg struct {
		name    string
		payload []byte
		props   message.Properties
	}
	msgs := []msg{
		{"empty", nil, nil},
		{"binary", binary, message.Properties{"k": "v"}},
		{"unicode properties", []byte("héllo wörld ✓"), message.Properties{"ключ": "値", "emoji": "🙂🚀", "empty": "", "sp ace": "a=b;c"}},
	}
	if big := largeSize(e.caps); big > 0 {
		payload := make([]byte, big-2) // leaves room for one property "s"="z"
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		msgs = append(msgs, msg{"max size", payload, message.Properties{"s": "z"}})
	}
	ids := make([]message.MessageID, len(msgs))
	for i, m := range msgs {
		ids[i] = e.append(w, m.payload, m.props)
	}
	got := e.collect(e.read(w, walimpls.DeliverAll()), len(msgs))
	e.expectIDs("round trip", got, ids)
	for i, m := range msgs {
		if err := sameContent(got[i], m.payload, m.props); err != nil {
			r.Errorf("%s message: %v", m.name, err)
		}
		if got[i].Channel() != w.Channel().Name {
			r.Errorf("%s message: Channel() = %q, want %q", m.name, got[i].Channel(), w.Channel().Name)
		}
	}
}

// largeSize is the size of the round trip's largest message: the driver's
// limit when it has a moderate one, else 1 MiB.
func largeSize(c walimpls.Capabilities) int {
	if c.MaxMessageSize > 0 && c.MaxMessageSize <= 8<<20 {
		return c.MaxMessageSize
	}
	return 1 << 20
}

func testIDOrder(r R, h Harness) {
	e := newEnv(r, h)
	w := e.open(e.channel("order"))
	ids := e.appendN(w, "o", 20)
	for i, a := range ids {
		if !a.EQ(a) || !a.LTE(a) || a.LT(a) {
			r.Fatalf("ID %v is not EQ/LTE itself or is LT itself", a)
		}
		for _, b := range ids[i+1:] {
			if !a.LT(b) || !a.LTE(b) || a.EQ(b) || b.LT(a) || b.LTE(a) {
				r.Fatalf("IDs %v then %v: append order and LT/LTE/EQ disagree", a, b)
			}
		}
	}
	e.expectIDs("scan order", e.collect(e.read(w, walimpls.DeliverAll()), len(ids)), ids)
}

func testMarshalRoundTrip(r R, h Harness) {
	e := newEnv(r, h)
	w := e.open(e.channel("marshal"))
	for _, id := range e.appendN(w, "m", 5) {
		if id.WALName() != w.WALName() {
			r.Errorf("ID %v has WALName %q, WAL is %q", id, id.WALName(), w.WALName())
		}
		back, err := message.UnmarshalMessageID(w.WALName(), id.Marshal())
		if err != nil {
			r.Fatalf("UnmarshalMessageID(%q, %q): %v", w.WALName(), id.Marshal(), err)
		}
		if !back.EQ(id) || !id.EQ(back) {
			r.Errorf("ID %v came back from %q as %v", id, id.Marshal(), back)
		}
		if id.String() == "" {
			r.Errorf("ID %v has an empty String()", id.Marshal())
		}
	}
	for _, garbage := range []string{"", "not an id", "\xff\xfe", "1:2:3:4:5:x"} {
		if id, err := message.UnmarshalMessageID(w.WALName(), garbage); !errors.Is(err, walimpls.ErrInvalidArgument) {
			r.Errorf("UnmarshalMessageID(%q) = %v, %v; want ErrInvalidArgument", garbage, id, err)
		}
	}
}

func testChannelIsolation(r R, h Harness) {
	e := newEnv(r, h)
	// One name is a prefix of the other, to catch key-prefix bugs.
	a, b := e.open(e.channel("iso")), e.open(e.channel("iso-x"))
	idsA := e.appendN(a, "A", 3)
	idsB := e.appendN(b, "B", 4)
	for _, c := range []struct {
		w   walimpls.WALImpls
		ids []message.MessageID
		tag string
	}{{a, idsA, "A"}, {b, idsB, "B"}} {
		s := e.read(c.w, walimpls.DeliverAll())
		msgs := e.collect(s, len(c.ids))
		e.expectIDs("channel "+c.w.Channel().Name, msgs, c.ids)
		for _, m := range msgs {
			if !strings.HasPrefix(string(m.Payload()), c.tag+"-") || m.Channel() != c.w.Channel().Name {
				r.Errorf("channel %s delivered %q from %q", c.w.Channel().Name, m.Payload(), m.Channel())
			}
		}
		e.expectQuiet(s, "isolated channel "+c.w.Channel().Name)
	}
}

func testDeliverPolicies(r R, h Harness) {
	e := newEnv(r, h)
	w := e.open(e.channel("policy"))
	ids := e.appendN(w, "p", 5)

	e.expectIDs("DeliverAll", e.collect(e.read(w, walimpls.DeliverAll()), 5), ids)
	e.expectIDs("StartFrom(2)", e.collect(e.read(w, walimpls.StartFrom(ids[2])), 3), ids[2:])
	e.expectIDs("StartAfter(2)", e.collect(e.read(w, walimpls.StartAfter(ids[2])), 2), ids[3:])

	afterLast := e.read(w, walimpls.StartAfter(ids[4]))
	latest := e.read(w, walimpls.DeliverLatest())
	e.expectQuiet(afterLast, "StartAfter(last ID) before a new append")
	e.expectQuiet(latest, "DeliverLatest before a new append")
	id5 := e.append(w, []byte("p-5"), nil)
	e.expectIDs("StartAfter(last ID) after an append", e.collect(afterLast, 1), []message.MessageID{id5})
	e.expectIDs("DeliverLatest after an append", e.collect(latest, 1), []message.MessageID{id5})
	e.expectQuiet(latest, "DeliverLatest after its one new message")
}

func testTruncate(r R, h Harness) {
	e := newEnv(r, h)
	w := e.open(e.channel("trunc"))
	ids := e.appendN(w, "t", 10)
	if err := w.Truncate(e.ctx, ids[4]); err != nil {
		r.Fatalf("Truncate(%v): %v", ids[4], err)
	}
	e.expectIDs("StartAfter(truncation point)", e.collect(e.read(w, walimpls.StartAfter(ids[4])), 5), ids[5:])

	// Below the retained range: complete, or ErrOutOfRange; never a gap.
	below := e.readAll(w, walimpls.StartFrom(ids[0]), 1, len(ids))
	switch {
	case below.err != nil:
		e.expectErr("StartFrom(truncated ID)", below.err, walimpls.ErrOutOfRange)
	case e.caps.PhysicalTruncate:
		r.Errorf("StartFrom(truncated ID) delivered %d messages; PhysicalTruncate promises ErrOutOfRange", len(below.msgs))
	default:
		e.expectIDs("StartFrom(truncated ID) without PhysicalTruncate", below.msgs, ids)
	}

	all := e.readAll(w, walimpls.DeliverAll(), 5, len(ids))
	if all.err != nil {
		r.Fatalf("DeliverAll after Truncate: %v", all.err)
	}
	if e.caps.PhysicalTruncate {
		e.expectIDs("DeliverAll after physical Truncate", all.msgs, ids[5:])
	} else {
		e.expectIDs("DeliverAll after Truncate (a suffix of the channel)", all.msgs, ids[len(ids)-len(all.msgs):])
		if len(all.msgs) < 5 {
			r.Errorf("DeliverAll after Truncate lost retained messages: got %d, want at least 5", len(all.msgs))
		}
	}
	next := e.append(w, []byte("after"), nil)
	if !ids[9].LT(next) {
		r.Errorf("append after Truncate got ID %v, not after %v", next, ids[9])
	}
}

type readResult struct {
	msgs []message.ImmutableMessage
	err  error
}

// readAll reads until the scanner fails, has delivered most messages, or
// goes quiet after at least least of them; an error from Read itself counts
// as the scanner's error.
func (e *env) readAll(w walimpls.ROWALImpls, p walimpls.DeliverPolicy, least, most int) readResult {
	s, err := e.tryRead(w, p)
	if err != nil {
		return readResult{err: err}
	}
	var res readResult
	for len(res.msgs) < most {
		wait := e.h.Timeout
		if len(res.msgs) >= least {
			wait = e.h.QuietPeriod
		}
		m, err := e.next(s, wait)
		if errors.Is(err, errTimeout) {
			break
		}
		if err != nil {
			res.err = err
			break
		}
		res.msgs = append(res.msgs, m)
	}
	return res
}

func testReadOnly(r R, h Harness) {
	e := newEnv(r, h)
	ch := e.channel("ro")
	ids := e.appendN(e.open(ch), "r", 2)
	ro := e.openOn(e.opener, ch, 1, walimpls.ReadOnly)
	if ro.Channel().AccessMode != walimpls.ReadOnly {
		r.Errorf("ReadOnly WAL reports access mode %v", ro.Channel().AccessMode)
	}
	e.expectErr("Append on a ReadOnly WAL", appendErr(e.ctx, ro, message.NewMutableMessage([]byte("x"), nil)), walimpls.ErrReadOnly)
	e.expectErr("Truncate on a ReadOnly WAL", ro.Truncate(e.ctx, ids[0]), walimpls.ErrReadOnly)
	s := e.read(ro, walimpls.DeliverAll())
	e.expectIDs("Read on a ReadOnly WAL", e.collect(s, 2), ids)
	e.expectQuiet(s, "ReadOnly WAL after refused writes")
}

func testTermReopen(r R, h Harness) {
	e := newEnv(r, h)
	ch := e.channel("term")
	w1 := e.openOn(e.opener, ch, 1, walimpls.ReadWrite)
	a := e.append(w1, []byte("term1"), nil)
	w1.Close()
	w2 := e.openOn(e.opener, ch, 2, walimpls.ReadWrite)
	if w2.Channel().Term != 2 {
		r.Errorf("reopened WAL reports term %d, want 2", w2.Channel().Term)
	}
	b := e.append(w2, []byte("term2"), nil)
	if !a.LT(b) {
		r.Errorf("term 2 append got ID %v, not after term 1's %v", b, a)
	}
	msgs := e.collect(e.read(w2, walimpls.DeliverAll()), 2)
	e.expectIDs("after term reopen", msgs, []message.MessageID{a, b})
	for i, want := range []string{"term1", "term2"} {
		if err := sameContent(msgs[i], []byte(want), nil); err != nil {
			r.Errorf("message %d: %v", i, err)
		}
	}
}

func testPersistence(r R, h Harness) {
	e := newEnv(r, h)
	ch := e.channel("persist")
	// Only one opener may be alive, so the rebuild below is a real restart
	// even for drivers that share state between openers of one process.
	e.within("opener Close", e.opener.Close)
	first := e.newOpener()
	ids := e.appendN(e.openOn(first, ch, 1, walimpls.ReadWrite), "p", 5)
	e.within("opener Close", first.Close)

	second := e.newOpener()
	w := e.openOn(second, ch, 2, walimpls.ReadWrite)
	msgs := e.collect(e.read(w, walimpls.DeliverAll()), 5)
	e.expectIDs("after rebuilding the opener", msgs, ids)
	for i, m := range msgs {
		if err := sameContent(m, fmt.Appendf(nil, "p-%d", i), message.Properties{"i": fmt.Sprint(i)}); err != nil {
			r.Errorf("message %d after rebuilding the opener: %v", i, err)
		}
	}
	if next := e.append(w, []byte("p-5"), nil); !ids[4].LT(next) {
		r.Errorf("append after rebuilding the opener got ID %v, not after %v", next, ids[4])
	}
}
