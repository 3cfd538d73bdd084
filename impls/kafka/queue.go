package kafka

// queue is the FIFO of appends waiting for the sender, with their count and
// bytes. It is doubly linked so an appender that stops waiting leaves it in
// O(1), and the sender takes from the head. Guarded by writer.mu.
type queue struct {
	head, tail *appendReq
	n, bytes   int
}

func (q *queue) push(r *appendReq) {
	r.prev, r.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = r
	} else {
		q.head = r
	}
	q.tail = r
	q.add(r)
}

func (q *queue) pushFront(r *appendReq) {
	r.prev, r.next = nil, q.head
	if q.head != nil {
		q.head.prev = r
	} else {
		q.tail = r
	}
	q.head = r
	q.add(r)
}

func (q *queue) add(r *appendReq) {
	r.queued = true
	q.n++
	q.bytes += len(r.body)
}

// remove unlinks r, which must be queued.
func (q *queue) remove(r *appendReq) {
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		q.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else {
		q.tail = r.prev
	}
	r.prev, r.next, r.queued = nil, nil, false
	q.n--
	q.bytes -= len(r.body)
}
