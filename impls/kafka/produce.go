package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// The produce path. Every writer whose channel a broker leads hands its
// batch to that broker's sink, which sends whatever batches are waiting as
// one Produce request (one per topic: each partition's writer has at most
// one batch in flight, so per-partition sequences and the one-batch rule
// hold) on one connection, one request at a time, as franz-go's kgo does
// with its default of one produce request in flight per broker: batches
// that arrive while a request is out go together in the next. Spread over
// many channels, appends are then batched per broker where they were
// batched per channel before.
//
// No goroutine is kept per sink: the first appender to find the sink idle
// writes the request and reads the answer itself (no hand-off when
// appends do not overlap); if more batches queued meanwhile, a goroutine
// takes over until the queue is empty. An appender whose ctx ends while it
// waits for the answer leaves the reading to such a goroutine, so the
// connection stays in step.

// maxProduceBytes bounds the batches of one produce request (a broker
// refuses a request above socket.request.max.bytes, 100 MiB by default).
const maxProduceBytes = 16 << 20

// produceReq is one partition's framed batch (int32 size, then the batch)
// waiting for, or in, a produce request.
type produceReq struct {
	topic  string
	batch  []byte
	done   chan produceResult
	queued bool // in sink.queue; sink.mu
}

type produceResult struct {
	base int64
	err  error
}

// sink sends one broker's produce requests.
type sink struct {
	b *broker

	mu     sync.Mutex
	queue  []*produceReq
	busy   bool        // someone writes a request or waits for its answer
	bc     *brokerConn // the produce connection; nil until dialed and after a failure
	closed bool
	bg     sync.WaitGroup

	resp partialResp // the answer being read; owned by whoever is busy
}

// sink returns the broker's sink, creating it.
func (b *broker) sinkOf() *sink {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sink == nil {
		b.sink = &sink{b: b, closed: b.closed}
	}
	return b.sink
}

// produce sends framed, a batch of partition 0 of topic, with acks=all
// and returns its base offset. The broker's answer for the partition comes
// back as a kafkago.Error. An error that is a notSentError stored nothing;
// any other may have.
func (c *client) produce(ctx context.Context, topic string, framed []byte) (int64, error) {
	addr, err := c.leader(ctx, topic)
	if err != nil {
		return 0, err
	}
	return c.broker(addr).sinkOf().produce(ctx, topic, framed)
}

func (s *sink) produce(ctx context.Context, topic string, framed []byte) (int64, error) {
	r := &produceReq{topic: topic, batch: framed, done: make(chan produceResult, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, &notSentError{errClientClosed}
	}
	s.queue = append(s.queue, r)
	r.queued = true
	lead := !s.busy
	s.busy = true
	s.mu.Unlock()
	if lead {
		s.drive(ctx, r)
	}
	select {
	case res := <-r.done:
		return res.base, res.err
	case <-ctx.Done():
	}
	s.mu.Lock()
	if r.queued {
		s.unqueue(r)
		s.mu.Unlock()
		return 0, &notSentError{ctx.Err()}
	}
	s.mu.Unlock()
	select {
	case res := <-r.done:
		return res.base, res.err
	default:
	}
	// In a request on the wire: whoever reads the answer delivers it to
	// nobody.
	return 0, ctx.Err()
}

// unqueue removes r from the queue; s.mu is held.
func (s *sink) unqueue(r *produceReq) {
	for i, q := range s.queue {
		if q == r {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			break
		}
	}
	r.queued = false
}

// drive sends requests while holding the busy role, until mine (if set)
// is answered and then hands the queue to a background driver, or until
// the queue is empty. ctx is the appender's: if it ends while an answer is
// awaited, a background driver reads it.
func (s *sink) drive(ctx context.Context, mine *produceReq) {
	for {
		if mine != nil && len(mine.done) > 0 {
			s.handOff()
			return
		}
		reqs, bc, ok := s.take()
		if !ok {
			return
		}
		if bc == nil {
			var err error
			if bc, err = s.connect(); err != nil {
				deliverAll(reqs, err)
				continue
			}
		}
		sent, err := s.write(bc, reqs)
		if err != nil {
			s.broken(bc)
			deliverAll(reqs, err)
			continue
		}
		if err := s.resp.read(ctx, bc, sent.deadline); err != nil {
			if s.resp.liveRead {
				// The appender stops waiting; the answer is still due.
				s.bg.Add(1)
				go s.finish(bc, sent)
				return
			}
			s.broken(bc)
			deliverAll(reqs, err)
			continue
		}
		s.answer(bc, sent)
	}
}

// take removes the next request's batches from the queue, at most one per
// topic and maxProduceBytes in all. ok is false when there is nothing to
// send: the busy role is then released.
func (s *sink) take() (reqs []*produceReq, bc *brokerConn, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		for _, r := range s.queue {
			r.queued = false
			r.deliver(0, &notSentError{errClientClosed})
		}
		s.queue = nil
	}
	if len(s.queue) == 0 {
		s.busy = false
		return nil, nil, false
	}
	size := 0
	rest := s.queue[:0]
	for _, r := range s.queue {
		dup := false
		for _, o := range reqs {
			dup = dup || o.topic == r.topic
		}
		if dup || len(reqs) > 0 && size+len(r.batch) > maxProduceBytes {
			rest = append(rest, r)
			continue
		}
		size += len(r.batch)
		r.queued = false
		reqs = append(reqs, r)
	}
	clear(s.queue[len(rest):])
	s.queue = rest
	return reqs, s.bc, true
}

// handOff passes the busy role to a background driver if batches wait,
// else releases it.
func (s *sink) handOff() {
	s.mu.Lock()
	if len(s.queue) == 0 || s.closed {
		s.busy = false
		s.mu.Unlock()
		return
	}
	s.bg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.bg.Done()
		s.drive(s.b.c.ctx, nil)
	}()
}

// finish reads the answer an appender stopped waiting for, then drives on.
func (s *sink) finish(bc *brokerConn, sent sentProduce) {
	defer s.bg.Done()
	if err := s.resp.read(s.b.c.ctx, bc, sent.deadline); err != nil {
		s.broken(bc)
		deliverAll(sent.reqs, err)
	} else {
		s.answer(bc, sent)
	}
	s.drive(s.b.c.ctx, nil)
}

// connect dials the produce connection (bounded by DialTimeout, ended by
// the client's close).
func (s *sink) connect() (*brokerConn, error) {
	bc, err := s.b.c.dial(s.b.c.ctx, s.b.addr)
	if err != nil {
		return nil, err
	}
	if bc.produceV < 0 {
		bc.Close() //nolint:errcheck // dropping the connection: nothing more is read or sent on it
		return nil, &notSentError{fmt.Errorf("kafka: broker %s offers no Produce version in %d..%d", s.b.addr, produceMinVersion, produceMaxVersion)}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		bc.Close() //nolint:errcheck // dropping the connection: nothing more is read or sent on it
		return nil, &notSentError{errClientClosed}
	}
	s.bc = bc
	s.mu.Unlock()
	return bc, nil
}

// broken drops the produce connection after an error on it.
func (s *sink) broken(bc *brokerConn) {
	s.mu.Lock()
	if s.bc == bc {
		s.bc = nil
	}
	s.mu.Unlock()
	bc.Close() //nolint:errcheck // dropping the connection: nothing more is read or sent on it
}

// sentProduce is a produce request on the wire.
type sentProduce struct {
	corr     int32
	version  int16
	reqs     []*produceReq
	deadline time.Time
}

// write sends reqs as one produce request. A failed write that sent no
// byte is a notSentError.
func (s *sink) write(bc *brokerConn, reqs []*produceReq) (sentProduce, error) {
	timeout := s.b.c.cfg.RequestTimeout
	sent := sentProduce{corr: bc.nextCorr(), version: bc.produceV, reqs: reqs, deadline: time.Now().Add(timeout + time.Second)}
	bc.req = encodeProduce(bc.req[:0], sent.version, sent.corr, bc.clientID, timeout, reqs)
	if err := bc.pc.SetWriteDeadline(sent.deadline); err != nil {
		return sent, &notSentError{err}
	}
	n, err := bc.pc.Write(bc.req)
	if cap(bc.req) > 1<<20 {
		bc.req = nil
	}
	if err != nil {
		err = fmt.Errorf("kafka: produce to %s: %w", s.b.addr, err)
		if n == 0 {
			err = &notSentError{err}
		}
		return sent, err
	}
	return sent, nil
}

// answer decodes the answer read into s.resp and delivers each batch's
// result; a malformed answer breaks the connection.
func (s *sink) answer(bc *brokerConn, sent sentProduce) {
	results, err := decodeProduce(s.resp.body, sent.version, sent.corr)
	s.resp.reset()
	if err != nil {
		s.broken(bc)
		deliverAll(sent.reqs, fmt.Errorf("kafka: produce answer from %s: %w", s.b.addr, err))
		return
	}
	for _, r := range sent.reqs {
		res, ok := results[r.topic]
		switch {
		case !ok:
			r.deliver(0, fmt.Errorf("kafka: produce answer from %s has no result for %s", s.b.addr, r.topic))
		case res.code != 0:
			var err error = kafkago.Error(res.code)
			if res.msg != "" {
				err = fmt.Errorf("%w: %s", err, res.msg)
			}
			r.deliver(0, err)
		default:
			r.deliver(res.base, nil)
		}
	}
}

func (r *produceReq) deliver(base int64, err error) {
	r.done <- produceResult{base: base, err: err}
}

func deliverAll(reqs []*produceReq, err error) {
	for _, r := range reqs {
		r.deliver(0, err)
	}
}

// close fails what is queued and waits for the background drivers, whose
// reads end when the connection closes.
func (s *sink) close() {
	s.mu.Lock()
	s.closed = true
	bc := s.bc
	s.bc = nil
	s.mu.Unlock()
	if bc != nil {
		bc.Close() //nolint:errcheck // dropping the connection: nothing more is read or sent on it
	}
	s.bg.Wait()
	s.mu.Lock()
	if !s.busy {
		for _, r := range s.queue {
			r.queued = false
			r.deliver(0, &notSentError{errClientClosed})
		}
		s.queue = nil
	}
	s.mu.Unlock()
}

// partialResp is an answer read in parts: an appender whose ctx ends
// mid-read leaves what it read for the next reader.
type partialResp struct {
	size [4]byte
	have int // bytes of size, then of body, read so far
	body []byte
	n    int // body length, once size is read
	// liveRead: the last read stopped because its reader's ctx ended, not
	// because the connection failed or timed out.
	liveRead bool
}

// read reads (the rest of) one answer by deadline; ctx ending stops it
// early, keeping what was read.
func (p *partialResp) read(ctx context.Context, bc *brokerConn, deadline time.Time) error {
	p.liveRead = false
	if err := bc.pc.SetReadDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = bc.pc.SetReadDeadline(time.Unix(1, 0)) })
	err := p.readAll(bc.pc)
	if !stop() {
		if err != nil && time.Now().Before(deadline) {
			p.liveRead = true
			return ctx.Err()
		}
		if err == nil {
			err = bc.pc.SetReadDeadline(time.Time{})
		}
	}
	return err
}

func (p *partialResp) readAll(r io.Reader) error {
	if p.have < 4 {
		n, err := io.ReadFull(r, p.size[p.have:])
		p.have += n
		if err != nil {
			return err
		}
		p.n = int(int32(binary.BigEndian.Uint32(p.size[:])))
		if p.n < 4 || p.n > maxProduceBytes {
			return fmt.Errorf("kafka: produce answer of %d bytes", p.n)
		}
		if cap(p.body) < p.n {
			p.body = make([]byte, p.n)
		}
		p.body = p.body[:p.n]
	}
	n, err := io.ReadFull(r, p.body[p.have-4:])
	p.have += n
	return err
}

func (p *partialResp) reset() {
	p.have, p.n = 0, 0
	if cap(p.body) > 64<<10 {
		p.body = nil
	}
}

// encodeProduce appends a Produce request (header v1, request v3..v8) with
// acks=all holding reqs, one partition per topic.
func encodeProduce(dst []byte, version int16, corr int32, clientID string, timeout time.Duration, reqs []*produceReq) []byte {
	dst, start := appendRequestHeader(dst, protocol.Produce, version, corr, clientID)
	dst = binary.BigEndian.AppendUint16(dst, 0xffff) // transactional id: null
	dst = binary.BigEndian.AppendUint16(dst, 0xffff) // acks: -1, all
	dst = binary.BigEndian.AppendUint32(dst, uint32(timeout/time.Millisecond))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(reqs)))
	for _, r := range reqs {
		dst = appendString16(dst, r.topic)
		dst = binary.BigEndian.AppendUint32(dst, 1) // one partition
		dst = binary.BigEndian.AppendUint32(dst, 0) // partition 0
		dst = append(dst, r.batch...)               // records: int32 size, then the batch
	}
	return endRequest(dst, start)
}

// produced is one partition's answer to a produce.
type produced struct {
	code int16
	base int64
	msg  string
}

// decodeProduce parses a Produce answer (after its size) into partition
// 0's result per topic.
func decodeProduce(b []byte, version int16, corr int32) (map[string]produced, error) {
	r := wire{b: b}
	if got := r.int32(); got != corr && r.err == nil {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	out := map[string]produced{}
	for range r.arrayLen(6) {
		topic := string(r.string16())
		for range r.arrayLen(4 + 2 + 8) {
			p := r.int32()
			res := produced{code: r.int16(), base: r.int64()}
			r.int64() // log append time
			if version >= 5 {
				r.int64() // log start offset
			}
			if version >= 8 {
				for range r.arrayLen(4 + 2) {
					r.int32()    // batch index
					r.string16() // its error message
				}
				res.msg = string(r.string16())
			}
			if p == 0 {
				out[topic] = res
			}
		}
	}
	r.int32() // throttle time
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}
