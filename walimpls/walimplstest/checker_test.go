package walimplstest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// kinds lists the problems' kinds and tags, "kind tag" each.
func kinds(ps []Problem) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Kind+" "+p.Tag)
	}
	return strings.Join(s, "; ")
}

func mustReader(t *testing.T, c *Checker, name, ch string, complete bool) *CheckedReader {
	t.Helper()
	r, err := c.AddReader(name, ch, complete)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func expectProblems(t *testing.T, what string, got []Problem, want string) {
	t.Helper()
	if k := kinds(got); k != want {
		t.Errorf("%s: problems %q, want %q", what, k, want)
	}
	for _, p := range got {
		t.Logf("%s: %v", what, p)
	}
}

// A clean run reports nothing, whether readers see a message before or
// after its Append returns, and forgets each message once every reader has
// it.
func TestCheckerCleanRunForgets(t *testing.T) {
	c := NewChecker(WithPayloadSize(100))
	r1 := mustReader(t, c, "r1", "ch", true)
	r2 := mustReader(t, c, "r2", "ch", true)
	for seq := range 1000 {
		a, m := c.NewAttempt("ch", "a", seq)
		if len(m.Payload()) != 100 {
			t.Fatalf("payload of %d bytes, want 100", len(m.Payload()))
		}
		im := m.IntoImmutable(id(int64(seq)), "ch")
		if seq%2 == 0 { // r1 reads it before its Append returns
			expectProblems(t, "early read", r1.Deliver(im), "")
			expectProblems(t, "ack", c.Done(a, id(int64(seq)), nil), "")
		} else {
			expectProblems(t, "ack", c.Done(a, id(int64(seq)), nil), "")
			expectProblems(t, "read", r1.Deliver(im), "")
		}
		expectProblems(t, "second reader", r2.Deliver(im), "")
	}
	expectProblems(t, "finish", c.Finish(), "")
	if n := len(c.channels["ch"].attempts); n != 0 {
		t.Errorf("%d settled attempts still held", n)
	}
	s := c.Stats()
	if s.Attempts != 1000 || s.Acked != 1000 || s.Delivered != 2000 || s.Unread != 0 || s.InFlight != 0 {
		t.Errorf("stats %+v", s)
	}
}

// A reader that reads past an acked message reports it lost at once, and
// so does an ack that arrives after the reader passed its ID.
func TestCheckerLostAsItHappens(t *testing.T) {
	c := NewChecker()
	r := mustReader(t, c, "r", "ch", true)
	a0, m0 := c.NewAttempt("ch", "a", 0)
	a1, _ := c.NewAttempt("ch", "b", 0)
	a2, m2 := c.NewAttempt("ch", "a", 1)
	expectProblems(t, "ack 0", c.Done(a0, id(0), nil), "")
	expectProblems(t, "ack 2", c.Done(a2, id(2), nil), "")
	expectProblems(t, "read 0", r.Deliver(m0.IntoImmutable(id(0), "ch")), "")
	expectProblems(t, "read 2", r.Deliver(m2.IntoImmutable(id(2), "ch")), "")
	expectProblems(t, "late ack of 1", c.Done(a1, id(1), nil), "lost ch/b/0")
	a3, _ := c.NewAttempt("ch", "a", 2)
	expectProblems(t, "ack 3", c.Done(a3, id(3), nil), "")
	expectProblems(t, "finish", c.Finish(), "lost ch/a/2")
}

// An append that starts after another was acked must get a higher ID, from
// any appender: a broker that lost its log and hands out old IDs again.
func TestCheckerIDsGoingBackwards(t *testing.T) {
	c := NewChecker()
	a, _ := c.NewAttempt("ch", "a", 0)
	c.Done(a, id(5), nil)
	b, _ := c.NewAttempt("ch", "b", 0)
	expectProblems(t, "ack below an earlier ack", c.Done(b, id(3), nil), "reordered ch/b/0")
	// Concurrent appends (both started before either was acked) may come
	// back in any order.
	x, _ := c.NewAttempt("ch", "x", 0)
	y, _ := c.NewAttempt("ch", "y", 0)
	expectProblems(t, "concurrent", append(c.Done(y, id(9), nil), c.Done(x, id(8), nil)...), "")
}

// Outcomes: "not stored" read before or after Done, unknown read twice or
// by one complete reader only.
func TestCheckerErrorOutcomes(t *testing.T) {
	c := NewChecker()
	r1 := mustReader(t, c, "r1", "ch", true)
	r2 := mustReader(t, c, "r2", "ch", true)
	notStored := fmt.Errorf("%w: refused", walimpls.ErrUnavailable)
	unknown := fmt.Errorf("%w: lost response", walimpls.ErrOutcomeUnknown)

	early, mEarly := c.NewAttempt("ch", "a", 0)
	expectProblems(t, "read before Done", r1.Deliver(mEarly.IntoImmutable(id(0), "ch")), "")
	expectProblems(t, "Done says not stored", c.Done(early, nil, notStored), "stored-despite-error ch/a/0")

	late, mLate := c.NewAttempt("ch", "a", 1)
	c.Done(late, nil, notStored)
	expectProblems(t, "read after Done", r1.Deliver(mLate.IntoImmutable(id(1), "ch")), "stored-despite-error ch/a/1")

	u, mu := c.NewAttempt("ch", "a", 2)
	c.Done(u, nil, unknown)
	expectProblems(t, "unknown read once", r1.Deliver(mu.IntoImmutable(id(2), "ch")), "")
	expectProblems(t, "unknown read again", r1.Deliver(mu.IntoImmutable(id(3), "ch")), "duplicated ch/a/2")

	ok, mOK := c.NewAttempt("ch", "a", 3)
	c.Done(ok, id(4), nil)
	r1.Deliver(mOK.IntoImmutable(id(4), "ch"))
	// r2 skips the unknown message r1 read: the readers disagree.
	expectProblems(t, "r2 passes the unknown one", r2.Deliver(mOK.IntoImmutable(id(4), "ch")), "diverged ch/a/2")
	s := c.Stats()
	if s.NotStored != 2 || s.Unknown != 1 || s.UnknownRead != 1 || s.Acked != 1 {
		t.Errorf("stats %+v", s)
	}
	c.NewAttempt("ch", "a", 4) // still in flight
	us := c.Unknowns()
	if len(us) != 2 || us[0].Tag != "ch/a/2" || !sameID(us[0].ReadAs, id(2)) || !errors.Is(us[0].Err, unknown) || us[1].Tag != "ch/a/4" || us[1].ReadAs != nil || us[1].Err != nil {
		t.Errorf("Unknowns() = %+v", us)
	}
}

// A message read again after every reader settled it is a duplicate, not a
// phantom; a message nobody appended is a phantom; one appended to another
// channel is misplaced; a changed one is corrupted.
func TestCheckerDuplicatePhantomMisplacedCorrupted(t *testing.T) {
	c := NewChecker()
	r := mustReader(t, c, "r", "ch", true)
	other := mustReader(t, c, "o", "other", true)
	a, m := c.NewAttempt("ch", "a", 0)
	c.Done(a, id(0), nil)
	r.Deliver(m.IntoImmutable(id(0), "ch"))
	expectProblems(t, "settled, read again", r.Deliver(m.IntoImmutable(id(1), "ch")), "duplicated ch/a/0")

	_, ghost := NewChecker().NewAttempt("ch", "ghost", 0)
	expectProblems(t, "phantom", r.Deliver(ghost.IntoImmutable(id(2), "ch")), "phantom ch/ghost/0")

	b, mb := c.NewAttempt("ch", "a", 1)
	c.Done(b, id(3), nil)
	expectProblems(t, "misrouted", other.Deliver(mb.IntoImmutable(id(0), "other")), "misplaced ch/a/1")

	d, md := c.NewAttempt("ch", "a", 2)
	c.Done(d, id(4), nil)
	r.Deliver(mb.IntoImmutable(id(3), "ch"))
	changed := message.NewMutableMessage([]byte("changed"), md.Properties().Clone())
	expectProblems(t, "corrupted", r.Deliver(changed.IntoImmutable(id(4), "ch")), "corrupted ch/a/2")
	expectProblems(t, "read once more, under a lower ID", r.Deliver(md.IntoImmutable(id(1), "ch")), "duplicated ch/a/2")
}

func TestCheckerReadersBeforeAttempts(t *testing.T) {
	c := NewChecker()
	c.NewAttempt("ch", "a", 0)
	if _, err := c.AddReader("late", "ch", true); err == nil {
		t.Error("a reader added after the channel's first attempt was accepted")
	}
	mustReader(t, c, "r", "ch2", true)
	if _, err := c.AddReader("r", "ch2", false); err == nil {
		t.Error("a reader added twice was accepted")
	}
}

// Partial readers are checked for what they read, never for what they did
// not, and do not hold messages in memory once they read past them.
func TestCheckerPartialReader(t *testing.T) {
	c := NewChecker()
	p := mustReader(t, c, "p", "ch", false)
	var msgs []message.MutableMessage
	for seq := range 3 {
		a, m := c.NewAttempt("ch", "a", seq)
		c.Done(a, id(int64(seq)), nil)
		msgs = append(msgs, m)
	}
	expectProblems(t, "partial reader starts late", p.Deliver(msgs[2].IntoImmutable(id(2), "ch")), "")
	expectProblems(t, "finish", c.Finish(), "")
	if n := len(c.channels["ch"].attempts); n != 0 {
		t.Errorf("%d attempts held after the only reader passed them", n)
	}
}
