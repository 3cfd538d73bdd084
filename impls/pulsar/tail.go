package pulsar

import (
	"context"

	pc "github.com/apache/pulsar-client-go/pulsar"
)

// recoverWindow is how many entries before the last one a new writer reads
// to find the highest sequence number: a resend interrupted by a crash can
// leave a copy of an older message last.
const recoverWindow = 64

// tail is what a writer recovers from the end of its topic.
type tail struct {
	last     ID   // position of the last message
	nonEmpty bool // false: the topic is empty and last means nothing
	maxSeq   int64
	maxTerm  int64
}

// recoverTail returns the position of the topic's last message and the
// highest sequence number and term among the last recoverWindow entries, or
// in the whole topic if those carry none (-1 if no message has one).
func recoverTail(ctx context.Context, o *opener, topic string) (tail, error) {
	last, nonEmpty, err := lastPosition(o, topic)
	if err != nil {
		return tail{maxSeq: -1, maxTerm: -1}, err
	}
	return recoverTailFrom(ctx, o, topic, last, nonEmpty)
}

// recoverTailFrom is recoverTail with the last position known.
func recoverTailFrom(ctx context.Context, o *opener, topic string, last ID, nonEmpty bool) (tail, error) {
	t := tail{last: last, nonEmpty: nonEmpty, maxSeq: -1, maxTerm: -1}
	if !t.nonEmpty {
		return t, nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.operationTimeout)
	defer cancel()
	if err := t.scanWindow(ctx, o, topic); err != nil || t.maxSeq >= 0 {
		return t, err
	}
	return t, t.scan(ctx, o, topic, pc.EarliestMessageID())
}

// scanWindow reads the last recoverWindow+1 entries of the last ledger.
func (t *tail) scanWindow(ctx context.Context, o *opener, topic string) error {
	return t.scan(ctx, o, topic, NewID(t.last.Ledger, max(0, t.last.Entry-recoverWindow), 0).client())
}

// lastPosition asks the broker for the topic's last message id; ok is false
// for an empty topic (the broker reports entry -1).
func lastPosition(o *opener, topic string) (ID, bool, error) {
	r, err := o.client.CreateReader(pc.ReaderOptions{Topic: topic, StartMessageID: pc.LatestMessageID(), ReceiverQueueSize: 1})
	if err != nil {
		return ID{}, false, err
	}
	defer closeReader(r)
	last, err := r.GetLastMessageID()
	if err != nil {
		return ID{}, false, err
	}
	id := idOf(last)
	return id, id.valid(), nil
}

// scan reads from from to t.last and records the highest sequence number
// and term.
func (t *tail) scan(ctx context.Context, o *opener, topic string, from pc.MessageID) error {
	r, err := o.client.CreateReader(pc.ReaderOptions{Topic: topic, StartMessageID: from, StartMessageIDInclusive: true, ReceiverQueueSize: minReceiverQueue})
	if err != nil {
		return err
	}
	defer closeReader(r)
	for {
		m, err := r.Next(ctx)
		if err != nil {
			return err
		}
		if st, own := stampOf(m); own {
			t.maxSeq, t.maxTerm = max(t.maxSeq, st.seq), max(t.maxTerm, st.term)
		}
		if idOf(m.ID()).cmp(t.last) >= 0 {
			return nil
		}
	}
}
