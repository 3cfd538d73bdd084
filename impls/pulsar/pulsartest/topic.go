package pulsartest

import (
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

// topic holds a topic's entries in position order. Entry indexes into
// entries are stable (nothing is ever trimmed), so cursors keep indexes and
// convert to (ledger, entry) only on the wire and on disk.
type topic struct {
	b         *Broker
	name      string
	ledger    uint64 // ledger written in this run; 0 until first needed
	nextEntry uint64
	entries   []entry
	producers map[*producer]struct{}
	subs      map[string]*subscription
	lastSeq   map[string]int64 // dedup: highest sequence id stored per producer name
	epoch     uint64           // topic_epoch of exclusive producers
	file      *topicFile
	arena     []byte // backing store for small entries' data
}

// arenaSize is the chunk small entries are copied into: one allocation per
// MiB instead of one per message keeps the garbage collector out of the
// produce path.
const arenaSize = 1 << 20

// keep copies an entry's bytes out of the reused frame buffer.
func (t *topic) keep(hp []byte) []byte {
	if len(hp) > arenaSize/8 {
		return append([]byte(nil), hp...)
	}
	if cap(t.arena)-len(t.arena) < len(hp) {
		t.arena = make([]byte, 0, arenaSize)
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
// as a broker with topic auto-creation does.
func (b *Broker) topicLocked(name string) (*topic, error) {
	if t := b.topics[name]; t != nil {
		return t, nil
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
// the stored topic: the open ledger, producers and non-durable cursors.
func (t *topic) resetForRestart() {
	t.ledger, t.nextEntry = 0, 0
	t.producers = map[*producer]struct{}{}
	for name, s := range t.subs {
		if !s.durable {
			delete(t.subs, name)
			continue
		}
		s.consumers = nil
		s.rewind()
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
	return len(t.entries) - 1, nil
}

// search returns the index of the first entry at or after (ledger, entryID),
// comparing as the client does, with signed ids. Earliest (-1:-1) is 0,
// latest (MaxInt64:MaxInt64) is len(entries).
func (t *topic) search(ledger, entryID int64) int {
	if ledger == -1 && entryID == -1 {
		return 0
	}
	if ledger == math.MaxInt64 {
		return len(t.entries)
	}
	return sort.Search(len(t.entries), func(i int) bool {
		e := &t.entries[i]
		if int64(e.ledger) != ledger {
			return int64(e.ledger) > ledger
		}
		return int64(e.id) >= entryID
	})
}

// find returns the index of exactly (ledger, entryID), or -1.
func (t *topic) find(ledger, entryID uint64) int {
	i := t.search(int64(ledger), int64(entryID))
	if i < len(t.entries) && t.entries[i].ledger == ledger && t.entries[i].id == entryID {
		return i
	}
	return -1
}

// idData is the wire form of entry i; i == -1 is the position before the
// first entry, (current ledger, -1), which is what a real broker reports
// for an empty topic.
func (t *topic) idData(i int) *pb.MessageIdData {
	if i < 0 || i >= len(t.entries) {
		_ = t.ensureLedger()
		return &pb.MessageIdData{
			LedgerId:   proto.Uint64(t.ledger),
			EntryId:    proto.Uint64(math.MaxUint64),
			BatchIndex: proto.Int32(-1),
		}
	}
	e := &t.entries[i]
	return &pb.MessageIdData{LedgerId: proto.Uint64(e.ledger), EntryId: proto.Uint64(e.id)}
}

// lastIDData reports the last stored message with its batch index (n-1 for
// a batch, -1 otherwise), so the client's HasNext compares it correctly with
// the ids it has dequeued.
func (t *topic) lastIDData() *pb.MessageIdData {
	if len(t.entries) == 0 {
		return t.idData(-1)
	}
	i := len(t.entries) - 1
	id := t.idData(i)
	bi := int32(-1)
	if info := t.entries[i].info; info.batched {
		bi = info.numMessages - 1
	}
	id.BatchIndex = proto.Int32(bi)
	return id
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
