package walimplstest

import (
	"container/heap"
	"crypto/rand"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/mqwal/mqwal/message"
)

// Checker checks a history as it happens: each call that records an append's
// outcome (Done) or a delivered message (CheckedReader.Deliver) returns the
// problems it proves at once, and Finish returns what only the end can show
// (acked messages a complete reader never read). It checks what History
// checks (lost, duplicated, reordered, phantom, corrupted, misplaced,
// stored-despite-error, diverged readers) plus one rule History cannot see
// after the fact: an append that starts after another one of its channel was
// acked gets a higher ID (IDs never go backwards, not even after a broker
// restart or a reconnect).
//
// Memory stays bounded on long runs: an acked message is forgotten once
// every reader of its channel has read it or read past its ID, so a Checker
// holds only what is in flight or not yet read. Attempts that failed are
// kept (an unknown outcome may still show up, at most once).
//
// Readers are registered before their channel's first attempt. A complete
// reader reads its channel from the start: every acked message must reach
// it, and what it reads, every other complete reader of the channel must
// read too (a message only some see is "diverged"). A partial reader (one
// that starts later, or stops early) is checked only for what it reads.
//
// Safe for concurrent use. History uses a Checker to check what it recorded.
type Checker struct {
	size int

	mu       sync.Mutex
	channels map[string]*chanState
	issued   map[string]int // channel/appender -> sequence numbers handed out
	stats    CheckerStats
}

// CheckerOption configures a Checker.
type CheckerOption interface{ apply(*Checker) }

type checkerOptionFunc func(*Checker)

func (f checkerOptionFunc) apply(c *Checker) { f(c) }

// WithPayloadSize makes every payload n bytes long (the tag, a separator and
// random bytes), or as long as the tag needs if n is smaller. The default is
// the tag plus 17 bytes, as History's.
func WithPayloadSize(n int) CheckerOption {
	return checkerOptionFunc(func(c *Checker) { c.size = n })
}

// CheckerStats counts what a Checker has seen so far.
type CheckerStats struct {
	// Attempts is how many appends were started (NewAttempt).
	Attempts int64
	// Acked, NotStored and Unknown count the outcomes recorded by Done: an
	// ID, an error that means "not stored", an error that wraps
	// walimpls.ErrOutcomeUnknown (or neither an ID nor an error).
	Acked, NotStored, Unknown int64
	// UnknownRead is how many unknown-outcome appends some reader read
	// (they were stored); the others were not seen, as far as readers got.
	UnknownRead int64
	// InFlight is how many attempts have no outcome yet.
	InFlight int64
	// Delivered counts messages readers delivered, duplicates included.
	Delivered int64
	// Unread is how many acked messages some complete reader has neither
	// read nor passed yet.
	Unread int64
}

// NewChecker returns an empty Checker.
func NewChecker(opts ...CheckerOption) *Checker {
	c := &Checker{channels: map[string]*chanState{}, issued: map[string]int{}}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

// chanState is what the Checker knows of one channel.
type chanState struct {
	name     string
	attempts map[string]*Attempt // by tag, until settled
	readers  []*CheckedReader
	all      uint64 // every reader's bit
	sealed   bool   // an attempt was made: no more readers
	maxAcked message.MessageID
	lastAck  map[string]ackedAt // appender -> its acked attempt of the highest seq
	unknowns []*Attempt         // unknown outcomes, never forgotten
}

type ackedAt struct {
	seq int
	tag string
	id  message.MessageID
}

func (c *Checker) channel(name string) *chanState {
	ch, ok := c.channels[name]
	if !ok {
		ch = &chanState{name: name, attempts: map[string]*Attempt{}, lastAck: map[string]ackedAt{}}
		c.channels[name] = ch
	}
	return ch
}

// CheckedReader is one scanner of a channel as the Checker sees it. Deliver
// its messages in the order the scanner delivered them, from one goroutine.
type CheckedReader struct {
	c        *Checker
	ch       *chanState
	name     string
	bit      uint64
	complete bool
	last     message.MessageID
	pending  expectHeap // messages it must read (complete) or pass, by ID
}

// AddReader registers reader name of channel; complete says whether it
// reads the channel from its start (see Checker). At most 64 readers per
// channel, each added before the channel's first NewAttempt.
func (c *Checker) AddReader(name, channel string, complete bool) (*CheckedReader, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.channel(channel)
	switch {
	case ch.sealed:
		return nil, fmt.Errorf("walimplstest: reader %s of channel %s added after the channel's first attempt", name, channel)
	case len(ch.readers) == 64:
		return nil, fmt.Errorf("walimplstest: reader %s: channel %s already has 64 readers", name, channel)
	}
	for _, r := range ch.readers {
		if r.name == name {
			return nil, fmt.Errorf("walimplstest: reader %s of channel %s added twice", name, channel)
		}
	}
	r := &CheckedReader{c: c, ch: ch, name: name, bit: 1 << len(ch.readers), complete: complete}
	ch.readers = append(ch.readers, r)
	ch.all |= r.bit
	return r, nil
}

// Name is the reader's name, as problems report it.
func (r *CheckedReader) Name() string { return r.name }

// Last is the ID of the last message the reader delivered, nil before the
// first.
func (r *CheckedReader) Last() message.MessageID {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return r.last
}

// NewAttempt makes the seq-th message of appender on channel: a unique tag
// property (TagProperty), "seq", and a payload of the tag plus random
// bytes. Call it before Append starts and Done once Append returned.
func (c *Checker) NewAttempt(channel, appender string, seq int) (*Attempt, message.MutableMessage) {
	a := makeAttempt(channel, appender, seq, c.size)
	c.mu.Lock()
	c.add(a)
	a.floor = c.channels[channel].maxAcked
	c.mu.Unlock()
	return a, message.NewMutableMessage(a.Payload, a.Props.Clone())
}

// makeAttempt makes the seq-th message of appender on channel, size bytes
// long or as long as its tag needs.
func makeAttempt(channel, appender string, seq, size int) *Attempt {
	tag := fmt.Sprintf("%s/%s/%d", channel, appender, seq)
	payload := make([]byte, max(size, len(tag)+17))
	copy(payload, tag+"|")
	_, _ = rand.Read(payload[len(tag)+1:])
	props := message.Properties{TagProperty: tag, "seq": strconv.Itoa(seq)}
	return &Attempt{Channel: channel, Appender: appender, Seq: seq, Tag: tag, Payload: payload, Props: props}
}

// add registers a, which has no outcome yet.
func (c *Checker) add(a *Attempt) {
	ch := c.channel(a.Channel)
	ch.sealed = true
	ch.attempts[a.Tag] = a
	key := a.Channel + "/" + a.Appender
	c.issued[key] = max(c.issued[key], a.Seq+1)
	c.stats.Attempts++
	c.stats.InFlight++
}

// Done records a's outcome: the ID it was acked as, or the error Append
// returned. It returns the problems the outcome proves: IDs going
// backwards, a message already read although Append said it was not
// stored, a message read under another ID, a reader that already read past
// an acked message without reading it.
func (c *Checker) Done(a *Attempt, id message.MessageID, err error) []Problem {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done(a, id, err)
}

func (c *Checker) done(a *Attempt, id message.MessageID, err error) []Problem {
	var ps problems
	a.ID, a.Err = id, err
	if a.finished {
		return nil // a second Done changes what is reported, not what is checked
	}
	a.finished = true
	c.stats.InFlight--
	ch := c.channels[a.Channel]
	switch {
	case a.acked():
		c.stats.Acked++
		if a.floor != nil && !a.floor.LT(id) {
			ps.add(a, "reordered", ruleOrder, "appender "+a.Appender, id,
				"acked as %v, not after %v, which was acked before this append started: IDs went backwards", id, a.floor)
		}
		if p, ok := ch.lastAck[a.Appender]; ok && p.seq < a.Seq && !p.id.LT(id) {
			ps.add(a, "reordered", ruleOrder, "appender "+a.Appender, id, "not after the appender's previous %s, acked as %v", p.tag, p.id)
		}
		if p, ok := ch.lastAck[a.Appender]; !ok || p.seq < a.Seq {
			ch.lastAck[a.Appender] = ackedAt{seq: a.Seq, tag: a.Tag, id: id}
		}
		if ch.maxAcked == nil || ch.maxAcked.LT(id) {
			ch.maxAcked = id
		}
		if a.readID != nil && !a.readID.EQ(id) {
			ps.add(a, "misplaced", ruleRightPlace, a.firstReader, a.readID, "read as %v before its Append returned", a.readID)
		}
		if !a.expected {
			ps = append(ps, ch.expect(a, id)...)
		}
		ch.settle(a)
	case a.notStored():
		c.stats.NotStored++
		if a.seen != 0 {
			a.flagged = true
			ps.add(a, "stored-despite-error", ruleNotStored, a.firstReader, a.readID, "read before its Append returned")
		}
	default:
		c.stats.Unknown++
		ch.unknowns = append(ch.unknowns, a)
		if a.seen != 0 {
			c.stats.UnknownRead++
		}
	}
	return ps
}

// expect makes every reader of ch owe a at id: one that has read it is
// done with it, one that has read past it without reading it lost it (a
// complete one), the others must read or pass it.
func (ch *chanState) expect(a *Attempt, id message.MessageID) []Problem {
	var ps problems
	a.expected, a.expID = true, id
	for _, r := range ch.readers {
		switch {
		case a.seen&r.bit != 0:
			a.resolved |= r.bit
		case r.last != nil && id.LTE(r.last):
			a.resolved |= r.bit
			if r.complete && !a.flagged {
				ps.missed(a, r, id)
			}
		default:
			heap.Push(&r.pending, expectation{a: a, id: id})
		}
	}
	return ps
}

// settle forgets a once its outcome is final and every reader has read or
// passed it.
func (ch *chanState) settle(a *Attempt) {
	if a.acked() && a.expected && a.resolved&ch.all == ch.all && ch.attempts[a.Tag] == a {
		delete(ch.attempts, a.Tag)
	}
}

// issuedTag reports whether tag was handed out by NewAttempt (so a message
// carrying it that is not in its channel's attempts was settled).
func (c *Checker) issuedTag(tag string) bool {
	i := strings.LastIndexByte(tag, '/')
	if i < 0 {
		return false
	}
	seq, err := strconv.Atoi(tag[i+1:])
	return err == nil && seq >= 0 && seq < c.issued[tag[:i]]
}

// Deliver records that the reader delivered m and returns the problems it
// shows: a duplicate, an ID not after the previous one, a message never
// appended, read on the wrong channel or under another ID, changed, or
// stored although its Append said it was not; and each message it owed
// below m's ID that it skipped.
func (r *CheckedReader) Deliver(m message.ImmutableMessage) []Problem {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Delivered++
	var ps problems
	tag, _ := m.Properties().Get(TagProperty)
	id := m.MessageID()
	ch := r.ch
	a := ch.attempts[tag]
	if a == nil {
		a = c.attemptElsewhere(tag, ch)
	}
	report := func(kind, rule, format string, args ...any) {
		p := Problem{Kind: kind, Channel: ch.name, Reader: r.name, Tag: tag, ID: id, Rule: rule, Detail: fmt.Sprintf(format, args...)}
		if a != nil {
			p.Outcome = a.outcome()
		}
		ps = append(ps, p)
	}
	switch {
	case a != nil && a.seen&r.bit != 0:
		rule := ruleExactlyOnce
		if !a.acked() {
			rule = ruleAtMostOnce
		}
		report("duplicated", rule, "read again (first as %v)", a.readID)
		return ps
	case a == nil && tag != "" && c.issuedTag(tag):
		report("duplicated", ruleExactlyOnce, "read again, after every reader had read it or read past it")
		return ps
	}
	if r.last != nil && (id == nil || !r.last.LT(id)) {
		report("reordered", ruleOrder, "read after %v", r.last)
	}
	if id != nil {
		r.last = id
	}
	switch {
	case a == nil:
		report("phantom", ruleNoPhantom, "payload %q was never appended", clip(m.Payload()))
	case a.Channel != ch.name || m.Channel() != ch.name:
		report("misplaced", ruleRightPlace, "appended to %s, read from %s (message says %s)", a.Channel, ch.name, m.Channel())
	case a.acked() && (id == nil || !a.ID.EQ(id)):
		report("misplaced", ruleRightPlace, "read under another ID")
	case a.notStored():
		a.flagged = true
		report("stored-despite-error", ruleNotStored, "read after its Append returned")
	case a.readID != nil && !sameID(a.readID, id):
		report("diverged", ruleOneLog, "reader %s read it as %v", a.firstReader, a.readID)
	default:
		if err := sameContent(m, a.Payload, a.Props); err != nil {
			report("corrupted", ruleSameBytes, "%v", err)
		}
	}
	if a != nil && a.Channel == ch.name {
		a.seen |= r.bit
		a.resolved |= r.bit
		if a.readID == nil {
			a.readID, a.firstReader = id, r.name
			if a.finished && !a.acked() && !a.notStored() {
				c.stats.UnknownRead++
			}
		}
		if !a.expected && r.complete && !a.notStored() && id != nil {
			ps = append(ps, ch.expect(a, id)...)
		}
	}
	if id != nil {
		for r.pending.Len() > 0 && r.pending[0].id.LTE(id) {
			e := heap.Pop(&r.pending).(expectation)
			if e.a.seen&r.bit == 0 {
				e.a.resolved |= r.bit
				if r.complete && !e.a.flagged {
					ps.missed(e.a, r, e.id)
				}
			}
			ch.settle(e.a)
		}
	}
	if a != nil {
		ch.settle(a)
	}
	return ps
}

// attemptElsewhere finds tag's attempt on another channel (a misrouted
// message), or nil.
func (c *Checker) attemptElsewhere(tag string, ch *chanState) *Attempt {
	name, _, ok := strings.Cut(tag, "/")
	if !ok || name == ch.name {
		return nil
	}
	if other := c.channels[name]; other != nil {
		return other.attempts[tag]
	}
	return nil
}

// Finish returns the acked messages a complete reader has not read: call it
// once every complete reader has read its channel to the end.
func (c *Checker) Finish() []Problem {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ps problems
	names := make([]string, 0, len(c.channels))
	for name := range c.channels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ch := c.channels[name]
		for _, r := range ch.readers {
			for r.pending.Len() > 0 {
				e := heap.Pop(&r.pending).(expectation)
				if r.complete && e.a.seen&r.bit == 0 && e.a.acked() && !e.a.flagged {
					p := problemOf(e.a, "lost", ruleExactlyOnce, r.name, e.id, "never read")
					if r.last != nil {
						p.Detail += fmt.Sprintf(" (the reader read up to %v)", r.last)
					}
					ps = append(ps, p)
				}
			}
		}
	}
	return ps
}

// Stats returns the counts so far.
func (c *Checker) Stats() CheckerStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	for _, ch := range c.channels {
		for _, a := range ch.attempts {
			if a.acked() && a.resolved&ch.complete() != ch.complete() {
				s.Unread++
			}
		}
	}
	return s
}

// UnknownOutcome is an append whose outcome was unknown, and whether a
// reader found it stored.
type UnknownOutcome struct {
	Channel, Tag string
	// Err is what Append returned (nil: Done was never called).
	Err error
	// ReadAs is the ID a reader first read it as; nil if none read it.
	ReadAs message.MessageID
}

// Unknowns lists the appends whose outcome is unknown, by channel and tag:
// those Done recorded with an error wrapping walimpls.ErrOutcomeUnknown (or
// with neither an ID nor an error), and those still in flight.
func (c *Checker) Unknowns() []UnknownOutcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []UnknownOutcome
	for _, ch := range c.channels {
		for _, a := range ch.unknowns {
			out = append(out, UnknownOutcome{Channel: a.Channel, Tag: a.Tag, Err: a.Err, ReadAs: a.readID})
		}
		for _, a := range ch.attempts {
			if !a.finished {
				out = append(out, UnknownOutcome{Channel: a.Channel, Tag: a.Tag, ReadAs: a.readID})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tag < out[j].Tag })
	return out
}

// complete is the bits of ch's complete readers.
func (ch *chanState) complete() uint64 {
	var bits uint64
	for _, r := range ch.readers {
		if r.complete {
			bits |= r.bit
		}
	}
	return bits
}

// problems collects Problems.
type problems []Problem

func (ps *problems) add(a *Attempt, kind, rule, reader string, id message.MessageID, format string, args ...any) {
	*ps = append(*ps, problemOf(a, kind, rule, reader, id, format, args...))
}

// missed reports that reader r read past id without reading a: lost if a
// was acked, diverged if another reader read it.
func (ps *problems) missed(a *Attempt, r *CheckedReader, id message.MessageID) {
	if a.acked() {
		ps.add(a, "lost", ruleExactlyOnce, r.name, id, "not read: the reader read past it, up to %v", r.last)
		return
	}
	ps.add(a, "diverged", ruleOneLog, r.name, id, "reader %s read it as %v; this reader read past it, up to %v, without it", a.firstReader, a.readID, r.last)
}

func problemOf(a *Attempt, kind, rule, reader string, id message.MessageID, format string, args ...any) Problem {
	return Problem{Kind: kind, Channel: a.Channel, Reader: reader, Tag: a.Tag, ID: id, Outcome: a.outcome(), Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

// expectation is a message a reader owes, at the ID it is expected at.
type expectation struct {
	a  *Attempt
	id message.MessageID
}

// expectHeap orders expectations by ID, lowest first.
type expectHeap []expectation

func (h expectHeap) Len() int           { return len(h) }
func (h expectHeap) Less(i, j int) bool { return h[i].id.LT(h[j].id) }
func (h expectHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expectHeap) Push(x any)        { *h = append(*h, x.(expectation)) }
func (h *expectHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = expectation{}
	*h = old[:len(old)-1]
	return e
}
