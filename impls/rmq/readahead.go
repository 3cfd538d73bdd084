package rmq

import (
	"runtime"

	"github.com/mqwal/mqwal/message"
)

// A scanner far behind the durable end (catching up, or replaying a
// channel from its start) keeps this many chunks being read ahead, each on
// a short-lived goroutine of its own, while it hands the current chunk to
// its consumer. A cold scan is CPU-bound (Pebble's block loads, copying
// each payload out of them, the garbage collector's work on the copies),
// so on a machine with an idle core two readers finish a catch-up
// sooner; on a busy machine they cost about the same CPU as one. A tailing
// scanner never reads ahead: it has nothing to read.
const readAheadDepth = 2

// readAheadSlotCount bounds the chunks read ahead at once in a store,
// over all its scanners: the point is the cores, and with thousands of
// channels catching up after a restart, memory stays at one chunk per
// scanner plus these. A scanner that finds no free slot reads in place, as
// one that is not behind does.
func readAheadSlotCount() int { return 2 * max(runtime.GOMAXPROCS(0), 1) }

// A chunk is one read's messages and the buffers they were read with.
type chunk struct {
	start uint64
	msgs  []message.ImmutableMessage
	bytes int
	bufs  scanBuffers
	// done is closed when a read ahead has set msgs, bytes and err; nil
	// for a chunk read by the scanner itself.
	done chan struct{}
	err  error
}

// readAhead gives a scanner its chunks in sequence order: read ahead when
// it is far behind, read in place otherwise (and for the gap a read ahead
// that stopped early at its byte bound leaves before the next one).
type readAhead struct {
	w *wal
	// slots is the store's semaphore of chunks read ahead; a chunk in
	// ahead holds one until it is recycled (or the scanner stops).
	slots chan struct{}
	// ahead holds the reads started, in sequence order; ahead[i+1] starts
	// where ahead[i] was asked to end, and nextAt is where the next one
	// would start.
	ahead  []*chunk
	nextAt uint64
	free   []*chunk
	// perMessage is the bytes per message of the last chunk read, which
	// sizes the reads ahead (their start must be known before the read
	// before them ends).
	perMessage int
	// readsAhead and readsInPlace count the chunks each way came from.
	readsAhead, readsInPlace int
}

func newReadAhead(w *wal) *readAhead { return &readAhead{w: w, slots: w.opener.store.readAheadSlots} }

// next returns the chunk that starts at pos, below end.
func (r *readAhead) next(pos, end uint64) (*chunk, error) {
	if len(r.ahead) > 0 && r.ahead[0].start == pos {
		c := r.ahead[0]
		r.ahead = append(r.ahead[:0], r.ahead[1:]...)
		<-c.done
		if c.err != nil {
			<-r.slots
			return nil, c.err
		}
		r.learn(c)
		r.readsAhead++
		return c, nil
	}
	if len(r.ahead) > 0 {
		// The read before ahead[0] stopped short: fill the gap here.
		end = min(end, r.ahead[0].start)
	}
	c := r.get()
	c.start = pos
	if err := r.w.readChunk(c, pos, end, chunkMessages, chunkBytes); err != nil {
		return nil, err
	}
	r.learn(c)
	r.readsInPlace++
	return c, nil
}

// schedule starts reads ahead from next on while the scanner is at least
// two reads behind end.
func (r *readAhead) schedule(next, end uint64) {
	n := r.messagesPerRead()
	if end <= next || end-next < 2*n {
		return
	}
	at := next
	if len(r.ahead) > 0 {
		at = r.nextAt
	}
	for ; len(r.ahead) < readAheadDepth && at < end && r.takeSlot(); at += n {
		c := r.get()
		c.start, c.done, c.err = at, make(chan struct{}), nil
		r.ahead = append(r.ahead, c)
		// Twice the chunk's byte bound: a read sized by the last chunk's
		// messages still ends where the next one starts unless its
		// messages are much larger.
		go func(at uint64) {
			defer close(c.done)
			c.err = r.w.readChunk(c, at, end, n, 2*chunkBytes)
		}(at)
	}
	r.nextAt = at
}

// messagesPerRead sizes a read ahead to about chunkBytes.
func (r *readAhead) messagesPerRead() uint64 {
	if r.perMessage <= 0 {
		return chunkMessages
	}
	return uint64(min(max(chunkBytes/r.perMessage, 1), chunkMessages))
}

func (r *readAhead) learn(c *chunk) {
	if len(c.msgs) > 0 {
		r.perMessage = max(c.bytes/len(c.msgs), 1)
	}
}

func (r *readAhead) takeSlot() bool {
	select {
	case r.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// recycle takes back a chunk whose messages were all handed on.
func (r *readAhead) recycle(c *chunk) {
	if c.done != nil {
		<-r.slots
	}
	clear(c.msgs)
	c.msgs, c.done, c.err = c.msgs[:0], nil, nil
	r.free = append(r.free, c)
}

func (r *readAhead) get() *chunk {
	if n := len(r.free); n > 0 {
		c := r.free[n-1]
		r.free = r.free[:n-1]
		return c
	}
	return &chunk{}
}

// stop waits for the reads still running: the scanner's goroutine must not
// end (and let the store close) under them.
func (r *readAhead) stop() {
	for _, c := range r.ahead {
		<-c.done
		<-r.slots
	}
	r.ahead = nil
}
