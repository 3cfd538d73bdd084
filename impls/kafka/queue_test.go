package kafka

import (
	"slices"
	"testing"
)

func TestQueue(t *testing.T) {
	var q queue
	reqs := make([]*appendReq, 5)
	for i := range reqs {
		reqs[i] = &appendReq{body: make([]byte, i+1)}
		q.push(reqs[i])
	}
	order := func() []int {
		var out []int
		for r := q.head; r != nil; r = r.next {
			out = append(out, len(r.body))
		}
		return out
	}
	check := func(want []int) {
		t.Helper()
		bytes := 0
		for _, b := range want {
			bytes += b
		}
		if got := order(); !slices.Equal(got, want) || q.n != len(want) || q.bytes != bytes {
			t.Fatalf("queue %v n %d bytes %d, want %v n %d bytes %d", got, q.n, q.bytes, want, len(want), bytes)
		}
		if len(want) > 0 && (q.tail == nil || len(q.tail.body) != want[len(want)-1]) {
			t.Fatalf("tail is not the last element")
		}
	}
	check([]int{1, 2, 3, 4, 5})
	q.remove(reqs[2]) // middle
	check([]int{1, 2, 4, 5})
	q.remove(reqs[0]) // head
	check([]int{2, 4, 5})
	q.remove(reqs[4]) // tail
	check([]int{2, 4})
	if reqs[4].queued || !reqs[1].queued {
		t.Fatal("queued flags wrong")
	}
	q.pushFront(reqs[0])
	check([]int{1, 2, 4})
	q.remove(reqs[1])
	q.remove(reqs[3])
	q.remove(reqs[0])
	check(nil)
	if q.head != nil || q.tail != nil {
		t.Fatal("empty queue keeps links")
	}
	q.pushFront(reqs[2])
	check([]int{3})
}
