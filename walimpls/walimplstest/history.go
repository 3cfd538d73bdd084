package walimplstest

import (
	"crypto/rand"
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
	tag := fmt.Sprintf("%s/%s/%d", channel, appender, seq)
	payload := make([]byte, len(tag)+17)
	copy(payload, tag+"|")
	_, _ = rand.Read(payload[len(tag)+1:])
	props := message.Properties{TagProperty: tag, "seq": fmt.Sprint(seq)}
	a := &Attempt{Channel: channel, Appender: appender, Seq: seq, Tag: tag, Payload: payload, Props: props}
	h.mu.Lock()
	h.attempts[tag] = a
	h.mu.Unlock()
	return a, message.NewMutableMessage(payload, props.Clone())
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
// and those of one channel must agree on what they read.
func (h *History) Check(complete ...string) []Problem {
	h.mu.Lock()
	defer h.mu.Unlock()
	var problems []Problem
	readers := make([]string, 0, len(h.reads))
	for name := range h.reads {
		readers = append(readers, name)
	}
	sort.Strings(readers)
	for _, name := range readers {
		problems = append(problems, h.checkReader(name, h.reads[name])...)
	}
	for _, name := range complete {
		problems = append(problems, h.checkComplete(name)...)
	}
	problems = append(problems, h.checkSameLog(complete)...)
	return append(problems, h.checkAppenderOrder()...)
}

func (h *History) checkReader(name string, log *readerLog) []Problem {
	var problems []Problem
	report := func(kind, rule string, m message.ImmutableMessage, tag string, a *Attempt, format string, args ...any) {
		p := Problem{Kind: kind, Channel: log.channel, Reader: name, Tag: tag, ID: m.MessageID(), Rule: rule, Detail: fmt.Sprintf(format, args...)}
		if a != nil {
			p.Outcome = a.outcome()
		}
		problems = append(problems, p)
	}
	seen := map[string]message.MessageID{}
	var prev message.MessageID
	for i, m := range log.msgs {
		tag, _ := m.Properties().Get(TagProperty)
		id := m.MessageID()
		a := h.attempts[tag]
		if first, dup := seen[tag]; dup && tag != "" {
			rule := ruleExactlyOnce
			if a != nil && !a.acked() {
				rule = ruleAtMostOnce
			}
			report("duplicated", rule, m, tag, a, "read again at position %d (first as %v)", i, first)
			continue
		}
		seen[tag] = id
		if prev != nil && (id == nil || !prev.LT(id)) {
			report("reordered", ruleOrder, m, tag, a, "read at position %d after %v", i, prev)
		}
		prev = id
		switch {
		case a == nil:
			report("phantom", ruleNoPhantom, m, tag, nil, "payload %q was never appended", clip(m.Payload()))
		case a.Channel != log.channel || m.Channel() != log.channel:
			report("misplaced", ruleRightPlace, m, tag, a, "appended to %s, read from %s (message says %s)", a.Channel, log.channel, m.Channel())
		case a.acked() && (id == nil || !a.ID.EQ(id)):
			report("misplaced", ruleRightPlace, m, tag, a, "read under another ID")
		case a.notStored():
			report("stored-despite-error", ruleNotStored, m, tag, a, "read at position %d", i)
		default:
			if err := sameContent(m, a.Payload, a.Props); err != nil {
				report("corrupted", ruleSameBytes, m, tag, a, "%v", err)
			}
		}
	}
	return problems
}

func (h *History) checkComplete(name string) []Problem {
	log, ok := h.reads[name]
	if !ok {
		return []Problem{{Kind: "lost", Reader: name, Rule: ruleExactlyOnce, Detail: "reader delivered nothing"}}
	}
	got := map[string]bool{}
	for _, m := range log.msgs {
		tag, _ := m.Properties().Get(TagProperty)
		got[tag] = true
	}
	var problems []Problem
	for _, a := range h.sortedAttempts() {
		if a.Channel == log.channel && a.acked() && !got[a.Tag] {
			problems = append(problems, Problem{Kind: "lost", Channel: a.Channel, Reader: name, Tag: a.Tag, ID: a.ID,
				Outcome: a.outcome(), Rule: ruleExactlyOnce, Detail: "never read"})
		}
	}
	return problems
}

// checkSameLog compares the complete readers of each channel position by
// position over the length they have in common: a reader may stop earlier
// (at an end marker), but up to there it must have read what every other
// reader of its channel read. A message only some readers see is how a
// maybe-stored append or a zombie writer splits readers.
func (h *History) checkSameLog(complete []string) []Problem {
	var problems []Problem
	first := map[string]string{} // channel -> first complete reader
	for _, name := range complete {
		log, ok := h.reads[name]
		if !ok {
			continue
		}
		ref, seen := first[log.channel]
		if !seen {
			first[log.channel] = name
			continue
		}
		other := h.reads[ref].msgs
		for i := range min(len(log.msgs), len(other)) {
			m, o := log.msgs[i], other[i]
			tag, _ := m.Properties().Get(TagProperty)
			otherTag, _ := o.Properties().Get(TagProperty)
			if tag == otherTag && sameID(m.MessageID(), o.MessageID()) {
				continue
			}
			p := Problem{Kind: "diverged", Channel: log.channel, Reader: name, Tag: tag, ID: m.MessageID(), Rule: ruleOneLog,
				Detail: fmt.Sprintf("position %d holds this message, reader %s read %s (ID %v) there", i, ref, otherTag, o.MessageID())}
			if a := h.attempts[tag]; a != nil {
				p.Outcome = a.outcome()
			}
			problems = append(problems, p)
			break // after the first difference every position differs
		}
	}
	return problems
}

func sameID(a, b message.MessageID) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.EQ(b)
}

func (h *History) checkAppenderOrder() []Problem {
	var problems []Problem
	last := map[string]*Attempt{}
	for _, a := range h.sortedAttempts() {
		if !a.acked() {
			continue
		}
		key := a.Channel + "/" + a.Appender
		if p := last[key]; p != nil && !p.ID.LT(a.ID) {
			problems = append(problems, Problem{Kind: "reordered", Channel: a.Channel, Reader: "appender " + a.Appender, Tag: a.Tag,
				ID: a.ID, Outcome: a.outcome(), Rule: ruleOrder,
				Detail: fmt.Sprintf("not after the appender's previous %s, acked as %v", p.Tag, p.ID)})
		}
		last[key] = a
	}
	return problems
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
