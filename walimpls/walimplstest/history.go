package walimplstest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// TagProperty is the property in which History tags each message it makes.
const TagProperty = "walimplstest.tag"

// Attempt is one append as the appender saw it. ID is set once acked; Err
// once failed. An error that wraps walimpls.ErrOutcomeUnknown leaves the
// message maybe stored, at most once; any other error means it was not
// stored. An attempt with neither (never Done) counts as an unknown outcome.
type Attempt struct {
	Channel  string
	Appender string
	Seq      int
	Tag      string
	Payload  []byte
	Props    message.Properties
	ID       message.MessageID
	Err      error

	// What a Checker knows of it, under the Checker's lock.
	finished    bool              // Done was called
	floor       message.MessageID // the channel's highest acked ID when it started
	seen        uint64            // readers that read it
	resolved    uint64            // readers that read it or read past it
	expected    bool              // readers owe it, at expID
	expID       message.MessageID //
	readID      message.MessageID // the ID it was first read as
	firstReader string            // by this reader
	flagged     bool              // read although "not stored": reported, owed by no one
}

// acked reports whether the append succeeded.
func (a *Attempt) acked() bool { return a.Err == nil && a.ID != nil }

// notStored reports whether the append's error says nothing was stored.
func (a *Attempt) notStored() bool {
	return a.Err != nil && !errors.Is(a.Err, walimpls.ErrOutcomeUnknown)
}

// outcome says what the appender was told, for problem reports.
func (a *Attempt) outcome() string {
	switch {
	case a.acked():
		return fmt.Sprintf("acked as %v", a.ID)
	case a.Err != nil:
		return fmt.Sprintf("Append returned %q", a.Err)
	}
	return "Append still in flight"
}

// The rules History checks, as its problems name them.
const (
	ruleExactlyOnce = "every acked append is read back exactly once"
	ruleAtMostOnce  = "an append whose outcome is unknown (ErrOutcomeUnknown) is stored at most once"
	ruleNotStored   = "an Append error that does not wrap walimpls.ErrOutcomeUnknown means the message was not stored"
	ruleOrder       = "a channel is read in ID order, and an appender's acks follow its append order"
	ruleNoPhantom   = "nothing is read that was never appended"
	ruleSameBytes   = "a message is read back byte-identical, payload and properties"
	ruleRightPlace  = "a message is read on the channel it was appended to, under its acked ID"
	ruleOneLog      = "every reader of a channel sees the same log"
)

// Problem is one violation History found.
type Problem struct {
	// Kind is lost, duplicated, reordered, phantom, corrupted, misplaced,
	// stored-despite-error or diverged.
	Kind    string
	Channel string
	Reader  string
	Tag     string
	// ID is the message's ID as read, or as acked when it was never read.
	ID message.MessageID
	// Outcome is what its Append reported: "acked as <id>", or the error.
	Outcome string
	// Rule is the contract rule broken.
	Rule   string
	Detail string
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s: channel %s, message %s", p.Kind, p.Channel, p.Tag)
	if p.ID != nil {
		s += fmt.Sprintf(" (ID %v)", p.ID)
	}
	if p.Outcome != "" {
		s += ", " + p.Outcome
	}
	s += fmt.Sprintf(", reader %s: %s", p.Reader, p.Detail)
	if p.Rule != "" {
		s += " [rule: " + p.Rule + "]"
	}
	return s
}

// History records concurrent appends and deliveries and checks them against
// the contract: every acked message read exactly once, in ID order, with its
// acked ID and its bytes; a message whose Append failed with an error that
// does not wrap walimpls.ErrOutcomeUnknown never read; one whose outcome is
// unknown read at most once; nothing read that was never appended; each
// appender's acked messages in its own order; every complete reader of a
// channel reading the same log. Safe for concurrent use. It works through
// any interface that appends messages and delivers ImmutableMessages, so
// the adaptor's tests use it too.
type History struct {
	mu       sync.Mutex
	attempts map[string]*Attempt
	reads    map[string]*readerLog
}

type readerLog struct {
	channel string
	msgs    []message.ImmutableMessage
}

// NewHistory returns an empty History.
func NewHistory() *History {
	return &History{attempts: map[string]*Attempt{}, reads: map[string]*readerLog{}}
}

// NewAttempt makes the seq-th message of appender on channel: a unique tag
// property and a payload of the tag plus random bytes.
func (h *History) NewAttempt(channel, appender string, seq int) (*Attempt, message.MutableMessage) {
	a := makeAttempt(channel, appender, seq, 0)
	h.mu.Lock()
	h.attempts[a.Tag] = a
	h.mu.Unlock()
	return a, message.NewMutableMessage(a.Payload, a.Props.Clone())
}

// Done records the outcome of an attempt.
func (h *History) Done(a *Attempt, id message.MessageID, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a.ID, a.Err = id, err
}

// Delivered records that reader, a scanner of channel, delivered m.
func (h *History) Delivered(reader, channel string, m message.ImmutableMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	log, ok := h.reads[reader]
	if !ok {
		log = &readerLog{channel: channel}
		h.reads[reader] = log
	}
	log.msgs = append(log.msgs, m)
}

// attempt returns the attempt tagged tag, or nil.
func (h *History) attempt(tag string) *Attempt {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attempts[tag]
}

// Acked counts acknowledged attempts.
func (h *History) Acked() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, a := range h.attempts {
		if a.acked() {
			n++
		}
	}
	return n
}

// Check returns every problem found. complete names the readers that read
// their channel to its end, so each must have every acked message of it,
// and those of one channel must agree on what they read. It replays the
// record through a Checker, complete readers first, in the order given.
func (h *History) Check(complete ...string) []Problem {
	h.mu.Lock()
	defer h.mu.Unlock()
	var problems []Problem
	c := NewChecker()
	var order []*CheckedReader
	isComplete := map[string]bool{}
	for _, name := range complete {
		log, ok := h.reads[name]
		if !ok {
			problems = append(problems, Problem{Kind: "lost", Reader: name, Rule: ruleExactlyOnce, Detail: "reader delivered nothing"})
			continue
		}
		if isComplete[name] {
			continue
		}
		isComplete[name] = true
		r, err := c.AddReader(name, log.channel, true)
		if err != nil {
			panic(err) // readers are added first, once each, at most 64 per channel
		}
		order = append(order, r)
	}
	partial := make([]string, 0, len(h.reads))
	for name := range h.reads {
		if !isComplete[name] {
			partial = append(partial, name)
		}
	}
	sort.Strings(partial)
	for _, name := range partial {
		r, err := c.AddReader(name, h.reads[name].channel, false)
		if err != nil {
			panic(err)
		}
		order = append(order, r)
	}
	// The outcomes as recorded, on copies: Check may run again.
	for _, a := range h.sortedAttempts() {
		replay := &Attempt{Channel: a.Channel, Appender: a.Appender, Seq: a.Seq, Tag: a.Tag, Payload: a.Payload, Props: a.Props}
		c.add(replay)
		if a.ID != nil || a.Err != nil {
			problems = append(problems, c.done(replay, a.ID, a.Err)...)
		}
	}
	for _, r := range order {
		for _, m := range h.reads[r.name].msgs {
			problems = append(problems, r.Deliver(m)...)
		}
	}
	return append(problems, c.Finish()...)
}

func sameID(a, b message.MessageID) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.EQ(b)
}

// sortedAttempts orders attempts by channel, appender, then sequence.
func (h *History) sortedAttempts() []*Attempt {
	all := make([]*Attempt, 0, len(h.attempts))
	for _, a := range h.attempts {
		all = append(all, a)
	}
	sort.Slice(all, func(i, j int) bool {
		x, y := all[i], all[j]
		if c := strings.Compare(x.Channel+"/"+x.Appender, y.Channel+"/"+y.Appender); c != 0 {
			return c < 0
		}
		return x.Seq < y.Seq
	})
	return all
}
