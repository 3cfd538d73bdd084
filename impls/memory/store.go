package memory

import (
	"sync"

	"github.com/mqwal/mqwal/message"
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
}

func (c *channelLog) append(payload []byte, props message.Properties) int64 {
	rec := record{payload: append([]byte(nil), payload...), props: props.Clone()}
	c.mu.Lock()
	defer c.mu.Unlock()
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

// truncate drops every record up to and including offset.
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
}
