package walimplstest

import (
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/mqwal/mqwal/message"
)

// TagProperty is the property in which History tags each message it makes.
const TagProperty = "walimplstest.tag"

// Attempt is one append as the appender saw it. ID is set once acked; Err
// once failed. A failed attempt may still be stored (an unknown outcome),
// but at most once.
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

// Problem is one violation History found.
type Problem struct {
	// Kind is lost, duplicated, reordered, phantom, corrupted or misplaced.
	Kind    string
	Channel string
	Reader  string
	Tag     string
	Detail  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: channel %s reader %s message %s: %s", p.Kind, p.Channel, p.Reader, p.Tag, p.Detail)
}

// History records concurrent appends and deliveries and checks them against
// the contract: every acked message read exactly once, in ID order, with its
// acked ID and its bytes; nothing read that was never appended; each
// appender's acked messages in its own order. Safe for concurrent use. It
// works through any interface that appends messages and delivers
// ImmutableMessages, so the adaptor's tests use it too.
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

// Acked counts acknowledged attempts.
func (h *History) Acked() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, a := range h.attempts {
		if a.ID != nil {
			n++
		}
	}
	return n
}

// Check returns every problem found. complete names the readers that read
// their channel to its end, so each must have every acked message of it.
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
	return append(problems, h.checkAppenderOrder()...)
}

func (h *History) checkReader(name string, log *readerLog) []Problem {
	var problems []Problem
	report := func(kind, tag, format string, args ...any) {
		problems = append(problems, Problem{Kind: kind, Channel: log.channel, Reader: name, Tag: tag, Detail: fmt.Sprintf(format, args...)})
	}
	seen := map[string]message.MessageID{}
	var prev message.MessageID
	for i, m := range log.msgs {
		tag, _ := m.Properties().Get(TagProperty)
		id := m.MessageID()
		if first, dup := seen[tag]; dup && tag != "" {
			report("duplicated", tag, "delivered again at position %d as %v (first as %v)", i, id, first)
			continue
		}
		seen[tag] = id
		if prev != nil && (id == nil || !prev.LT(id)) {
			report("reordered", tag, "ID %v at position %d does not follow %v", id, i, prev)
		}
		prev = id
		a, ok := h.attempts[tag]
		switch {
		case !ok:
			report("phantom", tag, "ID %v, payload %q was never appended", id, clip(m.Payload()))
		case a.Channel != log.channel || m.Channel() != log.channel:
			report("misplaced", tag, "appended to %s, read from %s (message says %s)", a.Channel, log.channel, m.Channel())
		case a.ID != nil && (id == nil || !a.ID.EQ(id)):
			report("misplaced", tag, "acked as %v, delivered as %v", a.ID, id)
		default:
			if err := sameContent(m, a.Payload, a.Props); err != nil {
				report("corrupted", tag, "%v", err)
			}
		}
	}
	return problems
}

func (h *History) checkComplete(name string) []Problem {
	log, ok := h.reads[name]
	if !ok {
		return []Problem{{Kind: "lost", Reader: name, Detail: "reader delivered nothing"}}
	}
	got := map[string]bool{}
	for _, m := range log.msgs {
		tag, _ := m.Properties().Get(TagProperty)
		got[tag] = true
	}
	var problems []Problem
	for _, a := range h.sortedAttempts() {
		if a.Channel == log.channel && a.ID != nil && !got[a.Tag] {
			problems = append(problems, Problem{Kind: "lost", Channel: a.Channel, Reader: name, Tag: a.Tag, Detail: fmt.Sprintf("acked as %v, never delivered", a.ID)})
		}
	}
	return problems
}

func (h *History) checkAppenderOrder() []Problem {
	var problems []Problem
	last := map[string]*Attempt{}
	for _, a := range h.sortedAttempts() {
		if a.ID == nil {
			continue
		}
		key := a.Channel + "/" + a.Appender
		if p := last[key]; p != nil && !p.ID.LT(a.ID) {
			problems = append(problems, Problem{Kind: "reordered", Channel: a.Channel, Reader: "appender " + a.Appender, Tag: a.Tag,
				Detail: fmt.Sprintf("acked as %v, not after the appender's previous %s acked as %v", a.ID, p.Tag, p.ID)})
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
