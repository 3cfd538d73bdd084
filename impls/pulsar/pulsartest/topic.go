package pulsartest

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest/internal/pb"
)

// entry is one stored ledger entry: a single message or a whole batch, kept
// exactly as the producer framed it (magic, checksum, metadata, payload) so
// delivery is a copy and the client verifies the producer's checksum.
type entry struct {
	ledger uint64
	id     uint64
	data   []byte
	info   entryInfo
}

// topic holds a topic's entries in position order. Entry indexes are
// absolute and stable: trimming drops entries from the front and moves base
// on, so cursors keep indexes and convert to (ledger, entry) only on the
// wire and on disk.
type topic struct {
	b         *Broker
	name      string
	ledger    uint64 // current ledger: written in this run, not rolled over; 0 until first needed
	nextEntry uint64
	base      int      // index of entries[0]: everything before it was trimmed
	entries   []entry  // retained entries; index i is entries[i-base]
	trimmed   position // position of entry base-1, the newest trimmed one
	hasLast   bool     // last is the position of the newest entry ever stored
	last      position // (a real broker's last confirmed entry, kept when it is trimmed)
	lastBatch int32    // batch index GET_LAST_MESSAGE_ID reports for last
	producers map[*producer]struct{}
	subs      map[string]*subscription
	lastSeq   map[string]int64 // dedup: highest sequence id stored per producer name
	epoch     uint64           // topic_epoch of exclusive producers
	file      *topicFile
	arena     []byte // backing store for small entries' data
}

// end is the index the next stored entry gets.
func (t *topic) end() int { return t.base + len(t.entries) }

// at returns the retained entry with index i (base <= i < end).
func (t *topic) at(i int) *entry { return &t.entries[i-t.base] }

// Small entries are copied into chunks: one allocation per MiB instead of
// one per message keeps the garbage collector out of the produce path. A
// topic's chunks start small and double up to maxArena, so thousands of
// topics with a message or two each do not hold a MiB each.
const (
	minArena = 4 << 10
	maxArena = 1 << 20
)

// keep copies an entry's bytes out of the reused frame buffer.
func (t *topic) keep(hp []byte) []byte {
	if len(hp) > maxArena/8 {
		return append([]byte(nil), hp...)
	}
	if cap(t.arena)-len(t.arena) < len(hp) {
		size := min(max(2*cap(t.arena), minArena), maxArena)
		t.arena = make([]byte, 0, max(size, len(hp)))
	}
	start := len(t.arena)
	t.arena = append(t.arena, hp...)
	return t.arena[start:len(t.arena):len(t.arena)]
}

func (b *Broker) newTopic(name string) *topic {
	return &topic{
		b:         b,
		name:      name,
		producers: map[*producer]struct{}{},
		subs:      map[string]*subscription{},
		lastSeq:   map[string]int64{},
	}
}

// topicLocked returns the topic, creating it (and its file) on first use,
// as a broker with topic auto-creation does. The name of a partitioned
// topic is no topic: errPartitioned.
func (b *Broker) topicLocked(name string) (*topic, error) {
	if t := b.topics[name]; t != nil {
		return t, nil
	}
	if n := b.partitionsLocked(name); n > 0 {
		return nil, fmt.Errorf("%w: %s has %d partitions: use %s%s<i>", errPartitioned, name, n, name, partitionSuffix)
	}
	t := b.newTopic(name)
	if b.store != nil {
		f, err := b.store.createTopic(name)
		if err != nil {
			return nil, err
		}
		t.file = f
	}
	b.topics[name] = t
	return t, nil
}

// ensureLedger opens this run's ledger on first use, like a broker that
// opens a new ledger whenever it loads a topic.
func (t *topic) ensureLedger() error {
	if t.ledger != 0 {
		return nil
	}
	id, err := t.b.allocLedgerLocked()
	if err != nil {
		return err
	}
	t.ledger, t.nextEntry = id, 0
	return nil
}

// resetForRestart forgets what belongs to a broker process rather than to
// the stored topic: the open ledger, producers and non-durable cursors. The
// last entry is what a reloaded topic finds in its retained ledgers.
func (t *topic) resetForRestart() {
	t.ledger, t.nextEntry = 0, 0
	t.producers = map[*producer]struct{}{}
	t.setLastFromEntries()
	for name, s := range t.subs {
		if !s.durable {
			delete(t.subs, name)
			continue
		}
		s.consumers = nil
		s.rewind()
	}
}

// setLastFromEntries points last at the newest retained entry, as a real
// broker that loads a topic sets its last confirmed entry.
func (t *topic) setLastFromEntries() {
	t.hasLast = len(t.entries) > 0
	if t.hasLast {
		e := &t.entries[len(t.entries)-1]
		t.setLast(e)
	}
}

func (t *topic) setLast(e *entry) {
	t.hasLast, t.last, t.lastBatch = true, position{e.ledger, e.id}, -1
	if e.info.batched {
		t.lastBatch = e.info.numMessages - 1
	}
}

// append stores one entry and returns its index.
func (t *topic) append(data []byte, info entryInfo) (int, error) {
	if err := t.ensureLedger(); err != nil {
		return 0, err
	}
	e := entry{ledger: t.ledger, id: t.nextEntry, data: data, info: info}
	if t.file != nil {
		if err := t.file.appendEntry(e); err != nil {
			return 0, err
		}
	}
	t.nextEntry++
	t.entries = append(t.entries, e)
	t.setLast(&t.entries[len(t.entries)-1])
	return t.end() - 1, nil
}

// search returns the index of the first retained entry at or after
// (ledger, entryID), comparing as the client does, with signed ids.
// Earliest (-1:-1) is the first retained entry, latest (MaxInt64:MaxInt64)
// is end; a trimmed position gives the first retained entry after it, as a
// real broker moves a cursor to the next valid position.
func (t *topic) search(ledger, entryID int64) int {
	if ledger == -1 && entryID == -1 {
		return t.base
	}
	if ledger == math.MaxInt64 {
		return t.end()
	}
	return t.base + sort.Search(len(t.entries), func(i int) bool {
		e := &t.entries[i]
		if int64(e.ledger) != ledger {
			return int64(e.ledger) > ledger
		}
		return int64(e.id) >= entryID
	})
}

// find returns the index of exactly (ledger, entryID) if it is retained, or -1.
func (t *topic) find(ledger, entryID uint64) int {
	i := t.search(int64(ledger), int64(entryID))
	if i < t.end() && t.at(i).ledger == ledger && t.at(i).id == entryID {
		return i
	}
	return -1
}

// posOf returns the position of entry i, retained or the last trimmed one.
func (t *topic) posOf(i int) (position, bool) {
	switch {
	case i >= t.base && i < t.end():
		return position{t.at(i).ledger, t.at(i).id}, true
	case i == t.base-1 && t.base > 0:
		return t.trimmed, true
	}
	return position{}, false
}

// idData is the wire form of entry i (retained, or the last trimmed one);
// any other index is the position before the first entry, (current ledger,
// -1), which is what a real broker reports for an empty topic.
func (t *topic) idData(i int) *pb.MessageIdData {
	p, ok := t.posOf(i)
	if !ok {
		_ = t.ensureLedger()
		return &pb.MessageIdData{
			LedgerId:   proto.Uint64(t.ledger),
			EntryId:    proto.Uint64(math.MaxUint64),
			BatchIndex: proto.Int32(-1),
		}
	}
	return &pb.MessageIdData{LedgerId: proto.Uint64(p.ledger), EntryId: proto.Uint64(p.entry)}
}

// lastIDData reports the newest stored entry with its batch index (n-1 for
// a batch, -1 otherwise), so the client's HasNext compares it correctly with
// the ids it has dequeued. Like a real broker's last confirmed entry it
// stays when its ledger is trimmed, until the topic is loaded again.
func (t *topic) lastIDData() *pb.MessageIdData {
	if !t.hasLast {
		return t.idData(-1)
	}
	return &pb.MessageIdData{
		LedgerId:   proto.Uint64(t.last.ledger),
		EntryId:    proto.Uint64(t.last.entry),
		BatchIndex: proto.Int32(t.lastBatch),
	}
}

// errPartitioned refuses a producer or consumer on the name of a
// partitioned topic (clients use its partitions).
var errPartitioned = errors.New("a partitioned topic")

// topicErrorCode is the error code for a topicLocked error.
func topicErrorCode(err error) pb.ServerError {
	if errors.Is(err, errPartitioned) {
		return pb.ServerError_NotAllowedError
	}
	return pb.ServerError_PersistenceError
}

// namespaceOf returns "tenant/namespace" of a full topic name.
func namespaceOf(topic string) string {
	if i := strings.Index(topic, "://"); i >= 0 {
		topic = topic[i+3:]
	}
	parts := strings.SplitN(topic, "/", 3)
	if len(parts) < 3 {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

func (b *Broker) handleTopicsOfNamespace(c *conn, g *pb.CommandGetTopicsOfNamespace) {
	b.mu.Lock()
	var names []string
	for name := range b.topics {
		if namespaceOf(name) == g.GetNamespace() {
			names = append(names, name)
		}
	}
	b.mu.Unlock()
	sort.Strings(names)
	r := command(pb.BaseCommand_GET_TOPICS_OF_NAMESPACE_RESPONSE)
	r.GetTopicsOfNamespaceResponse = &pb.CommandGetTopicsOfNamespaceResponse{
		RequestId: proto.Uint64(g.GetRequestId()),
		Topics:    names,
	}
	c.write(r, nil)
}

// detachLocked forgets a connection's producers and consumers. Unacked
// deliveries of its consumers become redeliverable. Idempotent.
func (b *Broker) detachLocked(c *conn) {
	delete(b.conns, c)
	c.held = nil
	for id, p := range c.producers {
		delete(p.t.producers, p)
		delete(c.producers, id)
	}
	for id, cs := range c.consumers {
		cs.sub.removeConsumer(cs)
		delete(c.consumers, id)
	}
}
