package kafka

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Scans fetch through a source per broker, which serves the scanners of
// every channel the broker leads with few connections (see broker.go), as
// franz-go's kgo does with one fetch request per broker for all its
// partitions. A Kafka fetch carries many partitions, and the broker
// answers it as soon as any of them has records (or its wait ends):
//
//   - Scanners with records to catch up go into one catch-up fetch at a
//     time (no wait at the broker), each partition up to fetchMaxBytes, so
//     a full scan reads as fast as on a connection of its own.
//   - Scanners that have read everything (caught up) and got a record
//     within idleAfter (hot) wait together in a long poll of pollWait. A
//     caught-up scanner that joins while a poll is out does not wait for
//     its end: a second poll goes out with every hot scanner, superseding
//     the first (whose answers for partitions that moved on are dropped).
//     A Kafka fetch cannot be cancelled, so with maxPolls out a joiner
//     waits for one to end: for a second after a join, polls wait joinWait
//     instead of pollWait.
//   - Caught-up scanners quiet for idleAfter (cold) wait in one cold poll
//     of pollWait of their own, which no record of a hot partition ends
//     and no join re-sends: a poll ends at any record of any of its
//     partitions and goes out again with all of them, so with one poll for
//     all, each append to a tailed channel cost a fetch of every tailed
//     partition, O(N) in client and broker. Now it costs one of the hot
//     ones. A cold partition that gets a record ends the cold poll and
//     turns hot. A hot scanner due to turn cold stays in the hot polls
//     until the cold poll ends (never in no poll); while scanners turn
//     cold (a burst of Opens) the cold poll waits coolWait, so they leave
//     the hot polls soon. An idle channel costs no request of its own:
//     10,000 idle tailing scanners are one request per broker per
//     pollWait.
//   - A fetch names a partition once (Kafka collapses repeats into one
//     answer, kfake groups them under the topic, so the answers could not
//     be told apart): the other scanners of the channel go in the next
//     fetch, or a second poll.
//   - Each scanner has room for readAhead answers; a scanner whose
//     consumer does not keep up is left out of fetches until it takes one,
//     so a paused scanner costs nothing and holds at most readAhead
//     buffers.
//
// Chosen over Kafka fetch sessions (KIP-227), which let a client send only
// the partitions that changed: the broker still walks every partition of
// the session per request (kfake and Kafka both), so sessions save bytes
// on the wire, not work; a full fetch per pollWait keeps the client
// stateless across broker restarts and leader moves.
//
// Answers are decoded per partition straight into pooled buffers and
// handed to the scanner's goroutine, which decodes its records while the
// source fetches more.

const (
	// pollWait is how long a poll waits at the broker for new records
	// (kgo's default FetchMaxWait too). Any record for any partition of
	// the poll ends the wait, so it bounds no delivery, only how often
	// idle scanners cost a request: 10,000 idle scanners cost one request
	// per broker per pollWait. A poll at a broker that lost the
	// leadership of a partition answers at its end; a writer of this
	// client that learns of the move sooner moves the scanners at once
	// (leaderMoved).
	pollWait = 5 * time.Second
	// joinWait is the wait of polls sent within joinQuiet of a scanner
	// joining while polls were out: with maxPolls out, a joiner waits for
	// the first to end, and polls of joinWait end soon. Bursts of joins
	// (thousands of scanners opening) cost a poll per joinWait; quiet
	// scanners one per pollWait.
	joinWait  = 100 * time.Millisecond
	joinQuiet = time.Second
	// idleAfter is how long a caught-up scanner stays hot after its last
	// record (or its start) before it moves to the cold poll.
	idleAfter = time.Second
	// coolWait is the wait of a cold poll that took scanners from the hot
	// polls: while scanners cool, the cold poll ends soon, so those due
	// to turn cold leave the hot polls within about coolWait.
	coolWait = 500 * time.Millisecond
	// coolCheck is how often at most the source looks for hot scanners
	// due to turn cold (a walk over the hot polls).
	coolCheck = idleAfter / 4
	// pastEndWait is how long a scanner waits before it fetches again at
	// an offset beyond the end of the log.
	pastEndWait = 100 * time.Millisecond
	// maxPolls bounds the polls out at once per broker (one superseding
	// the other).
	maxPolls = 2
	// fetchMaxBytes bounds one partition's part of a catch-up answer
	// (raised to the broker's largest batch if that is larger).
	fetchMaxBytes = 1 << 20
	// fetchRequestBytes bounds a whole answer.
	fetchRequestBytes = 16 << 20
	// readAhead is how many answers a scanner may hold unread.
	readAhead = 2
)

// chunk is one fetch answer for one scanner: records from from on, or err.
type chunk struct {
	from, next int64 // the fetch offset; the offset after the last whole batch
	aborted    []abortedTxn
	records    []byte // from getRecBuf
	err        error
}

// cursor is one scanner's place in its broker's source. The scanner takes
// answers from mail; everything else is the source's, under source.mu.
type cursor struct {
	src   *source
	topic string
	mail  chan chunk

	offset   int64 // the next offset to fetch
	gen      uint64
	mailN    int       // answers in mail
	inflight int       // fetches out that include it at gen
	caughtUp bool      // its last answer had nothing: poll it
	idle     bool      // its last poll ended with nothing
	cold     bool      // in the cold poll, or listed for the next one
	active   time.Time // its last record, start or resume
	stalled  bool      // after an error, until the scanner resumes it
	closed   bool
	listed   bool // in src.wantFast or src.wantPoll
	first    bool // put it first: the last answer had no room for it
}

// source fetches for the scanners of one broker.
type source struct {
	b *broker

	mu       sync.Mutex
	wantFast []*cursor   // cursors with records to read, not in a fetch
	wantPoll []*cursor   // caught-up cursors, not in a fetch
	wantCold []*cursor   // cold cursors, not in a fetch
	fast     bool        // a catch-up fetch is out
	polls    int         // hot polls out
	colds    []*fetchJob // the cold polls out
	lastJoin time.Time   // when caught-up scanners last joined while a poll was out
	nextCool time.Time   // when to look for hot cursors due to turn cold
	newest   *fetchJob   // the newest hot poll out
	topics   map[string][]*cursor
	active   map[*brokerConn]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// sourceOf returns the broker's source, creating it.
func (b *broker) sourceOf() *source {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.src == nil {
		b.src = &source{b: b, closed: b.closed, active: map[*brokerConn]struct{}{}, topics: map[string][]*cursor{}}
	}
	return b.src
}

// register adds a cursor for topic at offset; its first answer comes from
// a catch-up fetch.
func (s *source) register(topic string, offset int64) *cursor {
	cur := &cursor{src: s, topic: topic, mail: make(chan chunk, readAhead), offset: offset, active: time.Now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		cur.stalled = true
		cur.mailN++
		cur.mail <- chunk{err: errClientClosed}
		return cur
	}
	s.topics[topic] = append(s.topics[topic], cur)
	s.list(cur)
	s.kick()
	return cur
}

// leaderMoved tells the scanners of topic that another broker leads it
// now: a poll here would answer them only at its end.
func (s *source) leaderMoved(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.topics[topic] {
		if !c.closed && !c.stalled && c.mailN < readAhead {
			c.deliver(chunk{err: fmt.Errorf("kafka: %s: %w (the metadata names another leader)", topic, kafkago.NotLeaderForPartition)})
		}
	}
}

// wanting reports a cursor that should be in the next fetch; s.mu.
func (c *cursor) wanting() bool {
	return !c.closed && !c.stalled && c.inflight == 0 && c.mailN < readAhead
}

// list queues a wanting cursor for a fetch; s.mu.
func (s *source) list(c *cursor) {
	if c.listed || !c.wanting() {
		return
	}
	c.listed = true
	if c.cold && len(s.colds) >= maxPolls {
		// No cold poll can go out (none is out when a cold poll ends and
		// its cursors come back): never wait for one outside any poll.
		c.cold = false
	}
	switch {
	case c.caughtUp && c.cold:
		s.wantCold = append(s.wantCold, c)
	case c.caughtUp:
		s.wantPoll = append(s.wantPoll, c)
	default:
		s.wantFast = append(s.wantFast, c)
	}
}

// taken tells the source the scanner took an answer from mail.
func (c *cursor) taken() {
	s := c.src
	s.mu.Lock()
	c.mailN--
	if !c.listed && c.wanting() {
		s.list(c)
		s.kick()
	}
	s.mu.Unlock()
}

// resume puts a stalled cursor back at offset.
func (c *cursor) resume(offset int64) {
	s := c.src
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		if c.mailN < readAhead {
			c.mailN++
			c.mail <- chunk{err: errClientClosed}
		}
		return
	}
	c.offset, c.stalled, c.caughtUp, c.idle, c.cold = offset, false, false, false, false
	c.active = time.Now()
	// Answers of the fetches out are stale now: fetch at once instead of
	// waiting up to pollWait for a poll to end.
	c.gen++
	c.inflight = 0
	s.list(c)
	s.kick()
}

// close removes the cursor; answers it still holds go back to the pool.
// Only its scanner calls it.
func (c *cursor) close() {
	s := c.src
	s.mu.Lock()
	c.closed = true
	if cs := s.topics[c.topic]; len(cs) == 1 {
		delete(s.topics, c.topic)
	} else {
		for i, o := range cs {
			if o == c {
				s.topics[c.topic] = append(cs[:i], cs[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	for {
		select {
		case ch := <-c.mail:
			putRecBuf(ch.records)
		default:
			return
		}
	}
}

// fetchJob is one fetch out and what it needs; jobs are pooled, so idle
// polls of many partitions allocate little.
type fetchJob struct {
	poll    bool
	cold    bool          // the cold poll
	wait    time.Duration // how long the broker may wait for records
	set     []*cursor
	parts   []fetchPart
	gens    []uint64
	answers []partAnswer
	seen    []bool
	req     []byte
	byTopic map[string]int
	topics  map[string]struct{} // oncePerTopic's
}

var fetchJobs = sync.Pool{New: func() any { return new(fetchJob) }}

// take moves the cursors of list that still want a fetch into set, those
// that got no room last time first, and empties list; s.mu.
func take(set, list []*cursor) []*cursor {
	for _, c := range list {
		c.listed = false
		if c.wanting() && c.first {
			set = append(set, c)
		}
	}
	for _, c := range list {
		if c.wanting() && !c.first {
			set = append(set, c)
		}
	}
	clear(list)
	return set
}

// kick starts the fetches that can go out: a catch-up fetch unless one is
// out, a poll unless maxPolls are; s.mu.
func (s *source) kick() {
	if s.closed {
		return
	}
	// The cold poll first: it takes the listed hot cursors due to turn
	// cold, which the hot poll would take again otherwise.
	s.kickCold()
	if !s.fast && len(s.wantFast) > 0 {
		j := fetchJobs.Get().(*fetchJob)
		j.poll, j.cold, j.wait = false, false, 0
		j.set = take(j.set[:0], s.wantFast)
		s.wantFast = s.wantFast[:0]
		if len(j.set) > 0 {
			s.fast = true
			s.start(j)
		} else {
			fetchJobs.Put(j)
		}
	}
	if s.polls >= maxPolls || s.newest != nil {
		// A join: caught-up scanners that the newest poll out lacks and
		// that did not just come back from a poll that found nothing
		// (those are the idle cycle, not a join: counting them would
		// keep two polls of joinWait leapfrogging forever).
		for _, c := range s.wantPoll {
			if !c.idle {
				s.lastJoin = time.Now()
				break
			}
		}
	}
	// A loop: a poll may leave out cursors of a topic it has (oncePerTopic)
	// and list them again; a second poll takes them now.
	for s.polls < maxPolls && len(s.wantPoll) > 0 {
		j := fetchJobs.Get().(*fetchJob)
		j.poll, j.cold, j.wait = true, false, pollWait
		if time.Since(s.lastJoin) < joinQuiet {
			j.wait = joinWait
		}
		j.set = take(j.set[:0], s.wantPoll)
		s.wantPoll = s.wantPoll[:0]
		if s.newest != nil {
			// Supersede the poll out: the new one has every caught-up
			// cursor, so none waits for the old one to end.
			for _, c := range s.newest.set {
				if !c.closed && !c.stalled && c.mailN < readAhead && c.caughtUp && !c.cold {
					j.set = append(j.set, c)
				}
			}
		}
		if len(j.set) == 0 {
			fetchJobs.Put(j)
			break
		}
		s.polls++
		s.newest = j
		s.start(j)
	}
}

// kickCold sends the cold poll: the cold cursors back from the last one,
// and hot ones quiet for idleAfter, taken from the hot polls (they stay in
// those until the hot polls end, so they are polled throughout). Cold
// cursors listed while a cold poll is out (one that was in a hot poll
// too, which ended after the cold poll had gone out again) go in a second
// cold poll with every cursor of the one out, as hot joiners do: the
// first then ends with none to list again, and one cold poll remains;
// s.mu.
func (s *source) kickCold() {
	if len(s.colds) >= maxPolls {
		return
	}
	now := time.Now()
	scan := !now.Before(s.nextCool) && (len(s.colds) == 0 || len(s.wantCold) > 0)
	if len(s.wantCold) == 0 && !scan {
		return
	}
	j := fetchJobs.Get().(*fetchJob)
	j.poll, j.cold, j.wait = true, true, pollWait
	j.set = take(j.set[:0], s.wantCold)
	s.wantCold = s.wantCold[:0]
	fresh := len(j.set)
	// The cold poll out (there is one at most): its cursors go in this one
	// too, before any turns cold below, so none is in the poll twice.
	for _, o := range s.colds {
		for _, c := range o.set {
			if !c.closed && !c.stalled && c.mailN < readAhead && c.caughtUp && c.cold {
				j.set = append(j.set, c)
			}
		}
	}
	copied := len(j.set) - fresh
	if scan {
		s.nextCool = now.Add(coolCheck)
		due := func(c *cursor) bool {
			return !c.closed && !c.stalled && c.mailN < readAhead && c.caughtUp && !c.cold && now.Sub(c.active) >= idleAfter
		}
		n := len(j.set)
		kept := s.wantPoll[:0]
		for _, c := range s.wantPoll {
			if c.inflight == 0 && due(c) {
				c.listed, c.cold = false, true
				j.set = append(j.set, c)
			} else {
				kept = append(kept, c)
			}
		}
		clear(s.wantPoll[len(kept):])
		s.wantPoll = kept
		if s.newest != nil {
			for _, c := range s.newest.set {
				if due(c) {
					c.cold = true
					j.set = append(j.set, c)
				}
			}
		}
		if len(j.set) > n {
			j.wait = coolWait // scanners are cooling: more may follow soon
		}
	}
	if len(j.set) > copied {
		s.colds = append(s.colds, j)
		s.start(j)
	} else {
		j.release()
	}
}

// start sends j's fetch in a goroutine of its own; s.mu.
func (s *source) start(j *fetchJob) {
	s.oncePerTopic(j)
	n := len(j.set)
	j.parts = slices.Grow(j.parts[:0], n)[:n]
	j.gens = slices.Grow(j.gens[:0], n)[:n]
	j.answers = slices.Grow(j.answers[:0], n)[:n]
	j.seen = slices.Grow(j.seen[:0], n)[:n]
	clear(j.seen)
	partMax := int32(max(fetchMaxBytes, s.b.c.maxBatch+4096))
	for i, c := range j.set {
		c.inflight++
		c.first = false
		j.parts[i] = fetchPart{topic: c.topic, offset: c.offset, maxBytes: partMax}
		j.gens[i] = c.gen
	}
	s.wg.Add(1)
	go s.run(j)
}

// oncePerTopic leaves the first cursor of each topic in j.set and lists
// the others that are in no fetch for a later one; s.mu. A fetch must
// name a partition once: Kafka collapses repeats into one answer and
// kfake groups them under one topic, so answers could not be told apart,
// and an answer fetched at one scanner's offset handed to another of the
// same channel behind it would skip what lies between. The callers put
// the cursors they took from the lists first, so those win over copies of
// cursors already in another poll.
func (s *source) oncePerTopic(j *fetchJob) {
	if j.topics == nil {
		j.topics = make(map[string]struct{}, len(j.set))
	}
	clear(j.topics)
	kept := j.set[:0]
	var left []*cursor
	for _, c := range j.set {
		if _, dup := j.topics[c.topic]; dup {
			left = append(left, c)
			continue
		}
		j.topics[c.topic] = struct{}{}
		kept = append(kept, c)
	}
	clear(j.set[len(kept):])
	j.set = kept
	for _, c := range left {
		s.list(c) // a no-op for one in another fetch: it is listed when that ends
	}
}

// run sends one fetch and hands each cursor its answer.
func (s *source) run(j *fetchJob) {
	defer s.wg.Done()
	c := s.b.c
	lim := fetchLimits{maxWait: j.wait, maxBytes: fetchRequestBytes, isolation: readCommitted}
	parts := j.parts
	next := 0 // answers come in request order; byTopic is the fallback
	bc, err := s.b.get(c.ctx)
	if err == nil {
		s.mu.Lock()
		if s.closed {
			err = errClientClosed
		} else {
			s.active[bc] = struct{}{}
		}
		s.mu.Unlock()
		if err == nil {
			bc.req, j.req = j.req, bc.req // the job's buffer fits its request
			err = bc.fetch(parts, lim, time.Now().Add(lim.maxWait+c.cfg.RequestTimeout), func(topic []byte, a partAnswer) {
				i := -1
				if next < len(parts) && parts[next].topic == string(topic) {
					i = next
				} else {
					if j.byTopic == nil {
						j.byTopic = make(map[string]int, len(parts))
						for k, p := range parts {
							j.byTopic[p.topic] = k
						}
					}
					if k, ok := j.byTopic[string(topic)]; ok {
						i = k
					}
				}
				if i < 0 || j.seen[i] {
					putRecBuf(a.records)
					return
				}
				next = i + 1
				j.answers[i], j.seen[i] = a, true
			})
			bc.req, j.req = j.req, bc.req
			s.mu.Lock()
			delete(s.active, bc)
			s.mu.Unlock()
		}
		s.b.put(bc, err != nil)
	}
	if err != nil {
		err = fmt.Errorf("kafka: fetch from %s: %w", s.b.addr, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case j.cold:
		s.colds = slices.DeleteFunc(s.colds, func(o *fetchJob) bool { return o == j })
	case j.poll:
		s.polls--
		if s.newest == j {
			s.newest = nil
		}
	default:
		s.fast = false
	}
	for i, cur := range j.set {
		if cur.gen == j.gens[i] {
			cur.inflight--
		}
		a := j.answers[i]
		if cur.closed || cur.stalled || cur.gen != j.gens[i] || cur.offset != parts[i].offset || cur.mailN >= readAhead {
			// Stale: superseded by another fetch's answer, or moved.
			putRecBuf(a.records)
			s.list(cur)
			continue
		}
		switch {
		case err != nil:
			cur.deliver(chunk{err: err})
		case !j.seen[i]:
			// The answer had no room for it.
			cur.first, cur.caughtUp, cur.idle, cur.cold = true, false, false, false
		case a.code != 0:
			cur.deliver(chunk{err: kafkago.Error(a.code)})
		default:
			had := cur.mailN
			cur.answer(parts[i].offset, a)
			cur.idle = j.poll && cur.caughtUp && cur.mailN == had
		}
		s.list(cur)
	}
	s.kick()
	j.release()
}

// release gives j back to the pool, dropping what it references.
func (j *fetchJob) release() {
	clear(j.set)
	clear(j.parts)
	clear(j.answers)
	clear(j.topics)
	j.byTopic = nil
	if cap(j.set) > 1<<16 {
		return // an outlier: let it go
	}
	fetchJobs.Put(j)
}

// deliver hands the scanner an error; the cursor stalls until resumed.
// s.mu is held.
func (c *cursor) deliver(ch chunk) {
	c.stalled = true
	c.mailN++
	c.mail <- ch
}

// answer hands the scanner the records of a, fetched at from; s.mu is
// held.
func (c *cursor) answer(from int64, a partAnswer) {
	end := a.lso
	if end < 0 {
		end = a.hw
	}
	next := nextOffset(a.records, from)
	if next == from && !malformed(a.records) {
		// No whole batch: the records end at the stable offset (or an
		// open transaction holds them back), or the answer cut a batch.
		putRecBuf(a.records)
		c.caughtUp = from >= end
		c.first = !c.caughtUp
		return
	}
	c.mailN++
	c.mail <- chunk{from: from, next: next, aborted: a.aborted, records: a.records}
	c.offset = next
	c.caughtUp = next >= end
	c.cold, c.active = false, time.Now()
}

// malformed reports records whose first batch header cannot be right; the
// scanner's decoder says what is wrong.
func malformed(recs []byte) bool {
	return len(recs) >= 12 && int(int32(binary.BigEndian.Uint32(recs[8:]))) < batchHeaderSize-12
}

// nextOffset is the offset after the last whole batch in recs at or after
// from (from if none).
func nextOffset(recs []byte, from int64) int64 {
	next := from
	for len(recs) >= batchHeaderSize {
		size := int(int32(binary.BigEndian.Uint32(recs[8:])))
		if size < batchHeaderSize-12 || len(recs) < 12+size {
			break
		}
		base := int64(binary.BigEndian.Uint64(recs))
		last := base + int64(int32(binary.BigEndian.Uint32(recs[23:])))
		next = max(next, last+1)
		recs = recs[12+size:]
	}
	return next
}

// close stops the source: fetches out end when their connections close.
func (s *source) close() {
	s.mu.Lock()
	s.closed = true
	for bc := range s.active {
		bc.Close() //nolint:errcheck // dropping the connection: nothing more is read or sent on it
	}
	s.mu.Unlock()
	s.wg.Wait()
}
