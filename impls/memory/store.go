package memory

import (
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

func (s *Store) channel(name string) *channelLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.channels[name]
	if !ok {
		c = &channelLog{changed: make(chan struct{})}
		s.channels[name] = c
	}
	return c
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
