package memory

import (
	"maps"
	"slices"
	"sync"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// Store holds the channels of memory WALs. Safe for concurrent use; share
// one Store between openers to model one backend seen by several clients.
type Store struct {
	mu       sync.Mutex
	channels map[string]*channelLog
}

// NewStore returns an empty Store.
func NewStore() *Store { return &Store{channels: map[string]*channelLog{}} }

// channel returns the log of name. A channel exists once opened
// ReadWrite: create (a ReadWrite open) makes it if it does not exist yet,
// otherwise ok is false and nothing is created, so a ReadOnly open of a
// misspelt name leaves no channel behind.
func (s *Store) channel(name string, create bool) (c *channelLog, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok = s.channels[name]
	if !ok && create {
		c = &channelLog{changed: make(chan struct{}), term: walimpls.Unknown, writers: map[int64]int{}}
		s.channels[name] = c
		ok = true
	}
	return c, ok
}

// names returns the names of the Store's channels, sorted.
func (s *Store) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.channels))
}

// record is one stored message. Payload and properties are copied on the
// way in and on the way out, so neither side can change the other's bytes.
type record struct {
	payload []byte
	props   message.Properties
}

// channelLog is one channel: offsets [first, first+len(records)) are
// retained. changed is closed and replaced on every append, so tailing
// scanners wait without polling.
type channelLog struct {
	mu      sync.Mutex
	first   int64
	records []record
	changed chan struct{}
	// claims, in the order made (so in After order): see wal.Claims.
	claims []walimpls.Claim
	// bytes is the retained records' payload and property bytes.
	bytes int64
	// term is the highest term that opened the channel ReadWrite, and
	// writers counts the open ReadWrite WALs of each term (for Stat).
	term    int64
	writers map[int64]int
}

// noClaim is append's claimTerm for an append that claims nothing.
const noClaim = -1

// append stores a record and returns its offset. claimTerm >= 0 records a
// claim of that term, After the newest record, unless the term has one:
// the claim and the record it precedes are made in one step, so no other
// writer's message lands between them.
func (c *channelLog) append(payload []byte, props message.Properties, claimTerm int64) int64 {
	rec := record{payload: append([]byte(nil), payload...), props: props.Clone()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if claimTerm != noClaim && !slices.ContainsFunc(c.claims, func(cl walimpls.Claim) bool { return cl.Term == claimTerm }) {
		var after message.MessageID
		if end := c.first + int64(len(c.records)); end > 0 {
			after = helper.NewInt64ID(Name, end-1)
		}
		c.claims = append(c.claims, walimpls.Claim{Term: claimTerm, After: after})
	}
	c.records = append(c.records, rec)
	c.bytes += recordSize(rec)
	close(c.changed)
	c.changed = make(chan struct{})
	return c.first + int64(len(c.records)) - 1
}

// next returns the record at offset, whether it exists, the first retained
// offset, and a channel closed when the log next changes.
func (c *channelLog) next(offset int64) (rec record, ok bool, first int64, changed <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if offset >= c.first && offset < c.first+int64(len(c.records)) {
		return c.records[offset-c.first], true, c.first, c.changed
	}
	return record{}, false, c.first, c.changed
}

// end is the offset the next append will get.
func (c *channelLog) end() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first + int64(len(c.records))
}

// truncate drops every record up to and including offset, and merges the
// claims that now apply to every retained record (After at or below
// offset) into the one with the highest term, so the claim list stays as
// short as the number of claims inside the retained range.
func (c *channelLog) truncate(offset int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	drop := min(offset+1-c.first, int64(len(c.records)))
	if drop <= 0 {
		return
	}
	for _, rec := range c.records[:drop] {
		c.bytes -= recordSize(rec)
	}
	// Copy so the dropped records' memory is released.
	c.records = append([]record(nil), c.records[drop:]...)
	c.first += drop
	below := 0 // claims [0, below) have After at or below offset
	for below < len(c.claims) && (c.claims[below].After == nil || c.claims[below].After.(helper.Int64ID).Value() <= offset) {
		below++
	}
	if below > 1 {
		top := c.claims[0]
		for _, cl := range c.claims[1:below] {
			if cl.Term >= top.Term {
				top = cl
			}
		}
		c.claims = append([]walimpls.Claim{top}, c.claims[below:]...)
	}
}

// claimList returns a copy of the claims.
func (c *channelLog) claimList() []walimpls.Claim {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.claims)
}

func recordSize(r record) int64 { return int64(len(r.payload) + r.props.Size()) }

// openWriter counts a ReadWrite WAL of term in; closeWriter counts it out.
func (c *channelLog) openWriter(term int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.term = max(c.term, term)
	c.writers[term]++
}

func (c *channelLog) closeWriter(term int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writers[term]--; c.writers[term] <= 0 {
		delete(c.writers, term)
	}
}

// stat describes the log: see wal.Stat.
func (c *channelLog) stat() walimpls.ChannelStat {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := walimpls.ChannelStat{Messages: int64(len(c.records)), Bytes: c.bytes, Term: c.term, Writer: walimpls.WriterNone}
	if c.writers[c.term] > 0 {
		st.Writer = walimpls.WriterHeld
	}
	if len(c.records) > 0 {
		st.First = helper.NewInt64ID(Name, c.first)
		st.Last = helper.NewInt64ID(Name, c.first+int64(len(c.records))-1)
	}
	return st
}
