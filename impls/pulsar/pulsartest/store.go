package pulsartest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// On disk, each topic is one append-only file, <dataDir>/topics/<escaped
// name>.log, of records
//
//	[BODY_SIZE u32][CRC32C(BODY) u32][BODY = TYPE u8 ...]
//
// written with one write and an fsync each. Loading stops at the first
// record that is short or fails its checksum and truncates the file there: a
// torn tail is a write that was never acknowledged. Cursor records carry the
// whole cursor, so the last one wins; deduplication state is rebuilt from
// the entries' metadata and, for entries that were trimmed, from the dedup
// records written before the trim. <dataDir>/LEDGER holds the next ledger id, replaced
// atomically, so ledger ids grow across restarts.
const (
	recEntry       = 1 // ledger u64, entry u64, headersAndPayload
	recCursor      = 2 // name, hasMark u8, [mark ledger u64, entry u64], n u32, n × (ledger u64, entry u64)
	recUnsubscribe = 3 // name
	recEpoch       = 4 // epoch u64
	recTrim        = 5 // ledger u64: the entries of every ledger up to it are deleted
	recDedup       = 6 // name, sequence id i64: deduplication state kept when its entries are trimmed

	recHeader    = 8
	maxRecordLen = 1 << 30
)

type store struct {
	dir        string
	nextLedger uint64
	log        *slog.Logger
}

type position struct{ ledger, entry uint64 }

type cursorData struct {
	mark  *position
	acked []position
}

type topicData struct {
	name    string
	file    *topicFile
	entries []entry
	cursors map[string]cursorData
	epoch   uint64
	lastSeq map[string]int64 // from dedup records
}

type topicFile struct {
	f         *os.File
	body, rec []byte // reused buffers
}

func openStore(dir string, log *slog.Logger) (*store, []*topicData, error) {
	if err := os.MkdirAll(filepath.Join(dir, "topics"), 0o755); err != nil {
		return nil, nil, fmt.Errorf("pulsartest: data dir: %w", err)
	}
	s := &store{dir: dir, nextLedger: 1, log: log}
	if b, err := os.ReadFile(filepath.Join(dir, "LEDGER")); err == nil && len(b) == 12 &&
		crc32.Checksum(b[:8], crc32cTable) == binary.BigEndian.Uint32(b[8:]) {
		s.nextLedger = max(1, binary.BigEndian.Uint64(b))
	}
	names, err := filepath.Glob(filepath.Join(dir, "topics", "*.log"))
	if err != nil {
		return nil, nil, err
	}
	var topics []*topicData
	for _, path := range names {
		td, err := s.loadTopic(path)
		if err != nil {
			for _, t := range topics {
				_ = t.file.close()
			}
			return nil, nil, err
		}
		for _, e := range td.entries {
			s.nextLedger = max(s.nextLedger, e.ledger+1)
		}
		topics = append(topics, td)
	}
	return s, topics, nil
}

func (s *store) topicPath(name string) string {
	return filepath.Join(s.dir, "topics", url.PathEscape(name)+".log")
}

func (s *store) createTopic(name string) (*topicFile, error) {
	f, err := os.OpenFile(s.topicPath(name), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pulsartest: create topic file: %w", err)
	}
	if err := syncDir(filepath.Join(s.dir, "topics")); err != nil {
		_ = f.Close()
		return nil, err
	}
	return &topicFile{f: f}, nil
}

func (s *store) saveNextLedger(n uint64) error {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:], n)
	binary.BigEndian.PutUint32(b[8:], crc32.Checksum(b[:8], crc32cTable))
	tmp := filepath.Join(s.dir, "LEDGER.tmp")
	if err := writeFileSync(tmp, b[:]); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "LEDGER")); err != nil {
		return err
	}
	s.nextLedger = n
	return syncDir(s.dir)
}

func writeFileSync(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func (s *store) loadTopic(path string) (*topicData, error) {
	base := strings.TrimSuffix(filepath.Base(path), ".log")
	name, err := url.PathUnescape(base)
	if err != nil {
		return nil, fmt.Errorf("pulsartest: bad topic file name %q: %w", base, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	td := &topicData{name: name, file: &topicFile{f: f}, cursors: map[string]cursorData{}, lastSeq: map[string]int64{}}
	good := 0
	for good < len(data) {
		body, n := nextRecord(data[good:])
		if n == 0 || !td.apply(body) {
			break
		}
		good += n
	}
	if good < len(data) {
		s.log.Warn("pulsartest: truncating torn tail", "topic", name, "offset", good, "size", len(data))
		if err := f.Truncate(int64(good)); err != nil {
			_ = f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	return td, nil
}

// nextRecord returns the body of the first record in b and the bytes it
// takes, or 0 if the record is incomplete or corrupt.
func nextRecord(b []byte) ([]byte, int) {
	if len(b) < recHeader {
		return nil, 0
	}
	n := binary.BigEndian.Uint32(b)
	if n == 0 || n > maxRecordLen || uint64(n) > uint64(len(b)-recHeader) {
		return nil, 0
	}
	body := b[recHeader : recHeader+n]
	if crc32.Checksum(body, crc32cTable) != binary.BigEndian.Uint32(b[4:]) {
		return nil, 0
	}
	return body, recHeader + int(n)
}

// apply folds one record into td; false means the record is malformed.
func (td *topicData) apply(body []byte) bool {
	r := reader{b: body[1:]}
	switch body[0] {
	case recEntry:
		l, e := r.u64(), r.u64()
		if r.bad {
			return false
		}
		data := r.b
		meta, _, err := parsePayload(data)
		if err != nil {
			return false
		}
		td.entries = append(td.entries, entry{ledger: l, id: e, data: data, info: infoOf(meta)})
	case recCursor:
		name := r.str()
		var cd cursorData
		if r.u8() == 1 {
			cd.mark = &position{r.u64(), r.u64()}
		}
		n := r.u32()
		for i := uint32(0); i < n && !r.bad; i++ {
			cd.acked = append(cd.acked, position{r.u64(), r.u64()})
		}
		if r.bad {
			return false
		}
		td.cursors[name] = cd
	case recUnsubscribe:
		name := r.str()
		if r.bad {
			return false
		}
		delete(td.cursors, name)
	case recEpoch:
		td.epoch = r.u64()
		return !r.bad
	case recDedup:
		name, seq := r.str(), int64(r.u64())
		if r.bad {
			return false
		}
		td.lastSeq[name] = seq
	case recTrim:
		through := r.u64()
		if r.bad {
			return false
		}
		// Entries stored later are in later ledgers: dropping what was read
		// so far is enough.
		n := 0
		for n < len(td.entries) && td.entries[n].ledger <= through {
			n++
		}
		td.entries = td.entries[n:]
	default:
		return false
	}
	return true
}

type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte    { return r.take(1)[0] }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(r.take(8)) }
func (r *reader) str() string { return string(r.take(int(binary.BigEndian.Uint16(r.take(2))))) }

func (tf *topicFile) write(typ byte, fill func([]byte) []byte) error {
	tf.body = fill(append(tf.body[:0], typ))
	tf.rec = appendRecord(tf.rec[:0], tf.body)
	if _, err := tf.f.Write(tf.rec); err != nil {
		return fmt.Errorf("pulsartest: write %s: %w", tf.f.Name(), err)
	}
	if err := tf.f.Sync(); err != nil {
		return fmt.Errorf("pulsartest: sync %s: %w", tf.f.Name(), err)
	}
	return nil
}

// appendRecord frames body as a record: size, checksum, body.
func appendRecord(dst, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(body, crc32cTable))
	return append(dst, body...)
}

func (tf *topicFile) appendEntry(e entry) error {
	return tf.write(recEntry, func(b []byte) []byte {
		b = binary.BigEndian.AppendUint64(b, e.ledger)
		b = binary.BigEndian.AppendUint64(b, e.id)
		return append(b, e.data...)
	})
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func (tf *topicFile) appendCursor(s *subscription) error {
	acked := make([]int, 0, len(s.acked))
	for i := range s.acked {
		acked = append(acked, i)
	}
	sort.Ints(acked)
	return tf.write(recCursor, func(b []byte) []byte {
		b = appendStr(b, s.name)
		if p, ok := s.t.posOf(s.markDelete); ok {
			b = append(b, 1)
			b = binary.BigEndian.AppendUint64(b, p.ledger)
			b = binary.BigEndian.AppendUint64(b, p.entry)
		} else {
			b = append(b, 0)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(acked)))
		for _, i := range acked {
			b = binary.BigEndian.AppendUint64(b, s.t.at(i).ledger)
			b = binary.BigEndian.AppendUint64(b, s.t.at(i).id)
		}
		return b
	})
}

func (tf *topicFile) appendUnsubscribe(name string) error {
	return tf.write(recUnsubscribe, func(b []byte) []byte { return appendStr(b, name) })
}

func (tf *topicFile) appendDedup(name string, seq int64) error {
	return tf.write(recDedup, func(b []byte) []byte { return binary.BigEndian.AppendUint64(appendStr(b, name), uint64(seq)) })
}

func (tf *topicFile) appendTrim(through uint64) error {
	return tf.write(recTrim, func(b []byte) []byte { return binary.BigEndian.AppendUint64(b, through) })
}

func (tf *topicFile) appendEpoch(epoch uint64) error {
	return tf.write(recEpoch, func(b []byte) []byte { return binary.BigEndian.AppendUint64(b, epoch) })
}

func (tf *topicFile) close() error { return tf.f.Close() }

// newTopicFromDisk rebuilds a topic from its loaded records.
func newTopicFromDisk(b *Broker, td *topicData) *topic {
	t := b.newTopic(td.name)
	t.file = td.file
	t.entries = td.entries
	t.setLastFromEntries()
	t.epoch = td.epoch
	maps.Copy(t.lastSeq, td.lastSeq)
	for i := range t.entries {
		info := &t.entries[i].info
		// The producer's highest sequence id is its first one for a batch,
		// as the broker recorded it at send time.
		t.lastSeq[info.producerName] = int64(max(info.sequenceID, info.highestSeq))
	}
	for name, cd := range td.cursors {
		mark := -1
		if cd.mark != nil {
			mark = t.search(int64(cd.mark.ledger), int64(cd.mark.entry))
			if i := t.find(cd.mark.ledger, cd.mark.entry); i >= 0 {
				mark = i
			} else {
				mark-- // the entry is gone: everything before its place
			}
		}
		s := newSubscription(t, name, true, mark)
		for _, p := range cd.acked {
			if i := t.find(p.ledger, p.entry); i > mark {
				s.acked[i] = struct{}{}
			}
		}
		s.advance()
		s.rewind()
		t.subs[name] = s
	}
	return t
}
