package kafka

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// The driver's own Fetch codec, because segmentio has no read path that a
// read_committed consumer needs: Conn.ReadBatch drops the response's
// aborted-transactions list and delivers control records as messages, and
// Client.Fetch decodes every record into pages and header slices (and
// still returns aborted records). One request carries many partitions
// (source.go); the answer is decoded as it streams in, each partition's
// records read straight into a buffer of their own from a pool, so a
// scanner decodes its records while the next fetch is on the wire and no
// answer is copied twice.

// Isolation levels: read_committed makes the broker return records only
// up to the last stable offset, with the aborted transactions of the
// range; read_uncommitted returns everything up to the high watermark
// (what the driver's own log lookups need: its batches may follow an open
// transaction of another client).
const (
	readUncommitted = 0
	readCommitted   = 1
)

// fetchPart is one partition (0 of topic) of a fetch request.
type fetchPart struct {
	topic    string
	offset   int64
	maxBytes int32
}

// fetchLimits are a fetch's wait and size bounds and its isolation level.
type fetchLimits struct {
	maxWait   time.Duration
	maxBytes  int32
	isolation int8
}

// abortedTxn is an entry of a fetch response's aborted-transactions list:
// producer pid's transaction from firstOffset on was aborted.
type abortedTxn struct {
	pid         int64
	firstOffset int64
}

// partAnswer is one partition's answer to a fetch.
type partAnswer struct {
	code              int16
	hw, lso, logStart int64
	aborted           []abortedTxn
	records           []byte // record batches in a buffer from getRecBuf; nil if none
}

// fetch sends a fetch of parts and hands each partition 0 of the answer to
// fn, which owns its records (give them back with putRecBuf). An error
// from fetch means the connection is unusable.
func (bc *brokerConn) fetch(parts []fetchPart, lim fetchLimits, deadline time.Time, fn func(topic []byte, a partAnswer)) error {
	corr := bc.nextCorr()
	bc.req = encodeFetch(bc.req[:0], bc.fetchV, corr, bc.clientID, parts, lim)
	if err := bc.pc.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := bc.pc.Write(bc.req); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(bc.pc, size[:]); err != nil {
		return err
	}
	n := int(int32(binary.BigEndian.Uint32(size[:])))
	if n < 4 {
		return fmt.Errorf("kafka: fetch response of %d bytes", n)
	}
	return decodeFetch(bc.pc, n, bc.fetchV, corr, fn)
}

// encodeFetch appends a Fetch request (header v1) for partition 0 of
// each part's topic, without a fetch session.
func encodeFetch(dst []byte, version int16, corr int32, clientID string, parts []fetchPart, lim fetchLimits) []byte {
	dst, start := appendRequestHeader(dst, protocol.Fetch, version, corr, clientID)
	dst = binary.BigEndian.AppendUint32(dst, 0xffffffff) // replica id -1: a consumer
	dst = binary.BigEndian.AppendUint32(dst, uint32(lim.maxWait/time.Millisecond))
	dst = binary.BigEndian.AppendUint32(dst, 1) // min bytes
	dst = binary.BigEndian.AppendUint32(dst, uint32(lim.maxBytes))
	dst = append(dst, byte(lim.isolation))
	if version >= 7 {
		dst = binary.BigEndian.AppendUint32(dst, 0)          // session id: none
		dst = binary.BigEndian.AppendUint32(dst, 0xffffffff) // session epoch -1: a full fetch, no session
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(parts)))
	for _, p := range parts {
		dst = appendString16(dst, p.topic)
		dst = binary.BigEndian.AppendUint32(dst, 1) // one partition
		dst = binary.BigEndian.AppendUint32(dst, 0) // partition 0
		if version >= 9 {
			dst = binary.BigEndian.AppendUint32(dst, 0xffffffff) // current leader epoch: unknown
		}
		dst = binary.BigEndian.AppendUint64(dst, uint64(p.offset))
		if version >= 5 {
			dst = binary.BigEndian.AppendUint64(dst, 0xffffffffffffffff) // log start offset: a consumer's -1
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(p.maxBytes))
	}
	if version >= 7 {
		dst = binary.BigEndian.AppendUint32(dst, 0) // no forgotten topics
	}
	if version >= 11 {
		dst = appendString16(dst, "") // rack id
	}
	return endRequest(dst, start)
}

// appendRequestHeader appends a request's size (patched by endRequest)
// and header v1 (key, version, correlation id, client id), the header of
// every request of the driver's own codecs; it returns where the request
// starts.
func appendRequestHeader(dst []byte, key protocol.ApiKey, version int16, corr int32, clientID string) ([]byte, int) {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, 0) // size, patched by endRequest
	dst = binary.BigEndian.AppendUint16(dst, uint16(key))
	dst = binary.BigEndian.AppendUint16(dst, uint16(version))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	return appendString16(dst, clientID), start
}

// endRequest patches the size of the request that starts at start.
func endRequest(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

func appendString16(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// peekReader is a buffered reader: protocol.Conn, bufio.Reader.
type peekReader interface {
	io.Reader
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
}

var _ peekReader = (*bufio.Reader)(nil)

// decodeFetch reads a Fetch answer of size bytes (after its size) from r
// and hands fn each partition 0 it holds, as fetch does. A top-level
// error (v7+) is returned as a kafkago.Error after the answer was read.
func decodeFetch(r peekReader, size int, version int16, corr int32, fn func(topic []byte, a partAnswer)) error {
	s := stream{r: r, left: size}
	if got := s.int32(); got != corr && s.err == nil {
		return fmt.Errorf("kafka: fetch response for correlation id %d, want %d", got, corr)
	}
	s.int32() // throttle time
	var code int16
	if version >= 7 {
		code = s.int16()
		s.int32() // session id
	}
	var topic []byte
	for range s.arrayLen(6) {
		topic = append(topic[:0], s.string16()...)
		for range s.arrayLen(4 + 2 + 8 + 8 + 4) {
			var a partAnswer
			id := s.int32()
			a.code = s.int16()
			a.hw = s.int64()
			a.lso = s.int64()
			a.logStart = -1
			if version >= 5 {
				a.logStart = s.int64()
			}
			for range s.arrayLen(16) {
				a.aborted = append(a.aborted, abortedTxn{pid: s.int64(), firstOffset: s.int64()})
			}
			if version >= 11 {
				s.int32() // preferred read replica
			}
			a.records = s.records()
			if s.err != nil {
				putRecBuf(a.records)
				return fmt.Errorf("kafka: fetch response: %w", s.err)
			}
			if id != 0 {
				putRecBuf(a.records)
				continue
			}
			fn(topic, a)
		}
	}
	if s.err == nil && s.left > 0 {
		s.skip(s.left) // tagged fields of newer versions, if any
	}
	if s.err != nil {
		return fmt.Errorf("kafka: fetch response: %w", s.err)
	}
	if code != 0 {
		return fmt.Errorf("kafka: fetch: %w", kafkago.Error(code))
	}
	return nil
}

// stream reads Kafka's big-endian encodings from a buffered reader, at
// most left bytes. The first failure sets err; later reads return zero
// values.
type stream struct {
	r    peekReader
	left int
	err  error
}

// next returns the next n bytes, valid until the next read.
func (s *stream) next(n int) []byte {
	if s.err != nil {
		return nil
	}
	if n < 0 || n > s.left {
		s.err = errShort
		return nil
	}
	b, err := s.r.Peek(n)
	if errors.Is(err, bufio.ErrBufferFull) {
		b = make([]byte, n)
		_, err = io.ReadFull(s.r, b)
		s.left -= n
		if err != nil {
			s.err = err
			return nil
		}
		return b
	}
	if err != nil {
		s.err = err
		return nil
	}
	_, _ = s.r.Discard(n)
	s.left -= n
	return b
}

func (s *stream) skip(n int) {
	if s.err != nil {
		return
	}
	if n > s.left {
		s.err = errShort
		return
	}
	d, err := s.r.Discard(n)
	s.left -= d
	if err != nil {
		s.err = err
	}
}

func (s *stream) int16() int16 {
	if b := s.next(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (s *stream) int32() int32 {
	if b := s.next(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (s *stream) int64() int64 {
	if b := s.next(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

// string16 returns an int16-length string (nullable), valid until the next
// read.
func (s *stream) string16() []byte {
	n := s.int16()
	if n <= 0 {
		return nil
	}
	return s.next(int(n))
}

// arrayLen reads an int32 array length, refusing one that cannot fit in
// what is left at min bytes per element.
func (s *stream) arrayLen(minElem int) int {
	n := s.int32()
	if n < 0 || s.err != nil {
		return 0
	}
	if int64(n)*int64(minElem) > int64(s.left) {
		s.err = errShort
		return 0
	}
	return int(n)
}

// records reads an int32-length byte string into a pooled buffer.
func (s *stream) records() []byte {
	n := int(s.int32())
	if n <= 0 || s.err != nil {
		return nil
	}
	if n > s.left {
		s.err = errShort
		return nil
	}
	b := getRecBuf(n)
	k, err := io.ReadFull(s.r, b)
	s.left -= k
	if err != nil {
		s.err = err
		putRecBuf(b)
		return nil
	}
	return b
}

// Record buffers are pooled by power-of-two capacity, from 4 KiB to
// 64 MiB: a scan reads about a fetch of records per buffer, and an idle
// scanner holds none.
const (
	minRecBufShift = 12
	maxRecBufShift = 26
)

var recBufPools [maxRecBufShift - minRecBufShift + 1]sync.Pool

func recBufClass(n int) int {
	if n <= 1<<minRecBufShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minRecBufShift
}

// getRecBuf returns a buffer of length n.
func getRecBuf(n int) []byte {
	c := recBufClass(n)
	if c >= len(recBufPools) {
		return make([]byte, n)
	}
	if p, ok := recBufPools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<(c+minRecBufShift))
}

// putRecBuf gives a buffer from getRecBuf back; nil is ignored.
func putRecBuf(b []byte) {
	if b == nil {
		return
	}
	c := recBufClass(cap(b))
	if c >= len(recBufPools) || cap(b) != 1<<(c+minRecBufShift) {
		return
	}
	b = b[:0]
	recBufPools[c].Put(&b)
}
