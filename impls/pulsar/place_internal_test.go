package pulsar

import (
	"errors"
	"testing"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/walimpls"
)

func TestFollows(t *testing.T) {
	for _, c := range []struct {
		prev ID
		size int32
		next ID
		want bool
	}{
		{ID{1, 4, 0}, 1, ID{1, 5, 0}, true},  // next entry
		{ID{1, 4, 0}, 1, ID{1, 6, 0}, false}, // an entry skipped
		{ID{1, 4, 0}, 3, ID{1, 4, 1}, true},  // next message of a batch
		{ID{1, 4, 2}, 3, ID{1, 5, 0}, true},  // after a batch
		{ID{1, 4, 0}, 3, ID{1, 4, 2}, false}, // a batch message skipped
		{ID{1, 4, 1}, 3, ID{1, 5, 0}, false}, // a batch's tail skipped
		{ID{1, 4, 0}, 1, ID{1, 5, 1}, false}, // a batch's start skipped
		{ID{1, 4, 0}, 1, ID{3, 0, 0}, true},  // a later ledger starts at 0
		{ID{1, 4, 0}, 1, ID{3, 1, 0}, false}, // a later ledger's first entry skipped
		{ID{3, 0, 0}, 1, ID{1, 5, 0}, false}, // backwards
		{ID{1, 4, 0}, 1, ID{1, 4, 0}, false}, // a repeat
		{ID{1, 4, 0}, 1, ID{1, 4, 1}, false}, // not batched: no second message
		{ID{1, 4, 0}, 0, ID{1, 4, 1}, true},  // batch size unknown
		{ID{1, 4, 1}, 0, ID{1, 5, 0}, true},
	} {
		if got := follows(c.prev, c.size, c.next); got != c.want {
			t.Errorf("follows(%v, %d, %v) = %v, want %v", c.prev, c.size, c.next, got, c.want)
		}
	}
}

// A send the client fails may have reached the broker first: always an
// unknown outcome. ProducerFenced on reconnect proves no higher term (the
// epoch moves with any new exclusive producer; "an existing exclusive
// producer" may be this writer's own registration the broker has not
// dropped yet): the next Append finds out.
func TestFailedSendOutcome(t *testing.T) {
	w := testWriter(DefaultMaxMessageSize)
	server := func(msg string) error {
		return errors.Join(pc.ErrProducerFenced, errors.New("server error: ProducerFenced: "+msg))
	}
	for _, c := range []struct {
		cause            error
		fenced, retrying bool
	}{
		{server("Topic epoch has already moved. Current epoch: 2, Producer epoch: 1"), false, true},
		{server("Topic has an existing exclusive producer: mqwal-writer"), false, true},
		{errors.New("connection closed"), false, true},
	} {
		res := w.failed(c.cause)
		if !errors.Is(res.err, walimpls.ErrOutcomeUnknown) || walimpls.IsRetryable(res.err) {
			t.Errorf("%v: %v, want a non-retryable ErrOutcomeUnknown", c.cause, res.err)
		}
		if errors.Is(res.err, walimpls.ErrFenced) != c.fenced || errors.Is(res.err, walimpls.ErrUnavailable) != c.retrying {
			t.Errorf("%v: %v, want fenced %v, unavailable %v", c.cause, res.err, c.fenced, c.retrying)
		}
		if !w.broken.Load() {
			t.Errorf("%v: the writer is not marked for recovery", c.cause)
		}
		w.broken.Store(false)
	}
}
