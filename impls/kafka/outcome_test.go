package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// failNth answers the n-th request of kind key (counted from now) with
// code instead of handling it; the others pass. kfake may ask When more
// than once per request, so requests are told apart by identity.
func failNth(c *kafkatest.Cluster, key kmsg.Key, code *kerr.Error, n int) *kfake.FaultHandle {
	var mu sync.Mutex
	seen := map[kmsg.Request]int{}
	return c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{key}, Err: code, When: func(r kmsg.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := seen[r]; !ok {
			seen[r] = len(seen) + 1
		}
		return seen[r] == n
	}})
}

// storedThenAnswered arms the first produce to be stored with its answer
// lost, and the resend to be answered with code.
func storedThenAnswered(code *kerr.Error) func(*testing.T, *kafkatest.Cluster) {
	return func(t *testing.T, c *kafkatest.Cluster) {
		if err := c.DropNextResponse(kmsg.Produce, 1); err != nil {
			t.Fatal(err)
		}
		failNth(c, kmsg.Produce, code, 2)
	}
}

// TestProduceErrorOutcomes: every append error is either "not stored"
// (the message is not in the log) or wraps ErrOutcomeUnknown, whatever the
// broker answers and whether an earlier attempt was stored; and the writer
// continues with the right sequence, so the next append is stored and
// acknowledged at its own offset.
func TestProduceErrorOutcomes(t *testing.T) {
	c := startCluster(t)
	for _, tc := range []struct {
		name string
		arm  func(*testing.T, *kafkatest.Cluster)
		// ack: the append must succeed; unknown: it must fail with
		// ErrOutcomeUnknown; otherwise it may fail either way, checked
		// against the log.
		ack, unknown bool
	}{
		{name: "DUPLICATE_SEQUENCE_NUMBER for a stored batch", arm: storedThenAnswered(kerr.DuplicateSequenceNumber), unknown: true},
		{name: "DUPLICATE_SEQUENCE_NUMBER", arm: func(_ *testing.T, c *kafkatest.Cluster) {
			c.FailRequests(kmsg.Produce, "", kerr.DuplicateSequenceNumber, 1)
		}, unknown: true},
		{name: "OUT_OF_ORDER_SEQUENCE_NUMBER for a stored batch", arm: storedThenAnswered(kerr.OutOfOrderSequenceNumber), ack: true},
		{name: "UNKNOWN_PRODUCER_ID for a stored batch", arm: storedThenAnswered(kerr.UnknownProducerID), ack: true},
		{name: "MESSAGE_TOO_LARGE for a stored batch", arm: storedThenAnswered(kerr.MessageTooLarge), unknown: true},
		{name: "INVALID_RECORD for a stored batch", arm: storedThenAnswered(kerr.InvalidRecord), unknown: true},
		{name: "OUT_OF_ORDER_SEQUENCE_NUMBER", arm: func(_ *testing.T, c *kafkatest.Cluster) {
			c.FailRequests(kmsg.Produce, "", kerr.OutOfOrderSequenceNumber, 1)
		}},
		{name: "NOT_LEADER_FOR_PARTITION then stored", arm: func(_ *testing.T, c *kafkatest.Cluster) {
			c.FailRequests(kmsg.Produce, "", kerr.NotLeaderForPartition, 2)
		}, ack: true},
		{name: "REQUEST_TIMED_OUT after storing", arm: func(_ *testing.T, c *kafkatest.Cluster) {
			c.FailRequests(kmsg.Produce, "", kerr.RequestTimedOut, 2)
		}, ack: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOpener(t, c)
			w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
			mustAppend(t, w, "before", nil)
			tc.arm(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			id, err := w.Append(ctx, message.NewMutableMessage([]byte("faulted"), nil))
			cancel()
			switch {
			case tc.ack && err != nil:
				t.Fatalf("Append: %v, want it acknowledged", err)
			case tc.unknown && !errors.Is(err, walimpls.ErrOutcomeUnknown):
				t.Fatalf("Append: %v, want ErrOutcomeUnknown", err)
			case errors.Is(err, walimpls.ErrOutcomeUnknown) && walimpls.IsRetryable(err):
				t.Fatalf("Append: %v is ErrOutcomeUnknown and retryable", err)
			}
			next := mustAppend(t, w, "next", nil)
			checkLog(t, w, []string{"before", "faulted", "next"}, map[string]outcome{"faulted": {id, err}, "next": {helper.NewInt64ID(Name, next), nil}})
		})
	}
}

type outcome struct {
	id  message.MessageID
	err error
}

// checkLog reads the channel to its end (marked by a higher term's
// append) and checks that the payloads appear in order, that an acked
// payload appears once at its ID, that one that failed as "not stored" is
// absent, and that one with an unknown outcome appears at most once.
// Payloads not in order are other clients' records and only counted.
func checkLog(t *testing.T, w walimpls.WALImpls, order []string, outcomes map[string]outcome) {
	t.Helper()
	msgs := readAll(t, w)
	seen := map[string][]message.MessageID{}
	var got []string
	for _, m := range msgs {
		seen[string(m.Payload())] = append(seen[string(m.Payload())], m.MessageID())
		got = append(got, string(m.Payload()))
	}
	for p, oc := range outcomes {
		ids := seen[p]
		switch {
		case oc.err == nil && (len(ids) != 1 || !ids[0].EQ(oc.id)):
			t.Errorf("%q acked as %v, in the log at %v (log %q)", p, oc.id, ids, got)
		case oc.err != nil && !errors.Is(oc.err, walimpls.ErrOutcomeUnknown) && len(ids) != 0:
			t.Errorf("%q failed as not stored (%v), in the log at %v", p, oc.err, ids)
		case len(ids) > 1:
			t.Errorf("%q (%v) in the log %d times", p, oc.err, len(ids))
		}
	}
	i := 0
	for _, p := range got {
		if !slices.Contains(order, p) {
			continue // another client's record
		}
		for i < len(order) && order[i] != p {
			i++
		}
		if i == len(order) {
			t.Errorf("log %q is not in the order %q", got, order)
			return
		}
	}
}

// readAll reads everything in w's channel, skipping fences.
func readAll(t *testing.T, w walimpls.ROWALImpls) []message.ImmutableMessage {
	t.Helper()
	o := w.(*wal).o
	_, end, err := o.client.offsets(context.Background(), w.(*wal).topic)
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []message.ImmutableMessage
	// The last offset may be a fence, which the scanner skips: stop once
	// the scanner is quiet with everything below end seen.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				t.Fatalf("scanner ended: %v", s.Error())
			}
			out = append(out, m)
			if m.MessageID().(helper.Int64ID).Value() == end-1 {
				return out
			}
		case <-time.After(500 * time.Millisecond):
			return out
		case <-deadline:
			t.Fatalf("reading %d offsets took too long", end)
		}
	}
}

// TestClaimErrorOutcomes: a claim's fence is resent until the broker
// answers; a refusal that another writer of the term may cause starts the
// claim over, a higher term is ErrFenced, and an invalid request fails
// without retrying.
func TestClaimErrorOutcomes(t *testing.T) {
	c := startCluster(t)
	for _, tc := range []struct {
		name  string
		arm   func(*testing.T, *kafkatest.Cluster)
		check func(error) bool // nil: Open must succeed
	}{
		{name: "fence stored and its answer lost", arm: func(t *testing.T, c *kafkatest.Cluster) {
			if err := c.DropNextResponse(kmsg.Produce, 1); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "OUT_OF_ORDER_SEQUENCE_NUMBER once", arm: func(_ *testing.T, c *kafkatest.Cluster) {
			c.FailRequests(kmsg.Produce, "", kerr.OutOfOrderSequenceNumber, 1)
		}},
		{name: "DUPLICATE_SEQUENCE_NUMBER once", arm: func(_ *testing.T, c *kafkatest.Cluster) {
			c.FailRequests(kmsg.Produce, "", kerr.DuplicateSequenceNumber, 1)
		}},
		{name: "NOT_ENOUGH_REPLICAS twice", arm: func(_ *testing.T, c *kafkatest.Cluster) {
			c.FailRequests(kmsg.Produce, "", kerr.NotEnoughReplicas, 2)
		}},
		{name: "REQUEST_TIMED_OUT after storing", arm: func(_ *testing.T, c *kafkatest.Cluster) {
			c.FailRequests(kmsg.Produce, "", kerr.RequestTimedOut, 1)
		}},
		{name: "OUT_OF_ORDER_SEQUENCE_NUMBER always", arm: func(_ *testing.T, c *kafkatest.Cluster) {
			c.FailRequests(kmsg.Produce, "", kerr.OutOfOrderSequenceNumber, claimRounds)
		}, check: func(err error) bool { return errors.Is(err, walimpls.ErrFenced) }},
		{name: "INVALID_PRODUCER_EPOCH", arm: func(_ *testing.T, c *kafkatest.Cluster) {
			c.FailRequests(kmsg.Produce, "", kerr.InvalidProducerEpoch, 1)
		}, check: func(err error) bool { return errors.Is(err, walimpls.ErrFenced) }},
		{name: "TOPIC_AUTHORIZATION_FAILED", arm: func(_ *testing.T, c *kafkatest.Cluster) {
			c.FailRequests(kmsg.Produce, "", kerr.TopicAuthorizationFailed, 1)
		}, check: func(err error) bool {
			return errors.Is(err, kafkaTopicAuthorizationFailed) && !walimpls.IsRetryable(err) && !errors.Is(err, walimpls.ErrFenced)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOpener(t, c)
			ch := channelName(t)
			// The topic exists first, so the armed fault meets the fence.
			createTopic(t, o, ch)
			tc.arm(t, c)
			w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}})
			if tc.check != nil {
				if err == nil {
					w.Close()
					t.Fatal("Open succeeded")
				}
				if !tc.check(err) {
					t.Fatalf("Open: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer w.Close()
			id := mustAppend(t, w, "after", nil)
			checkLog(t, w, []string{"after"}, map[string]outcome{"after": {helper.NewInt64ID(Name, id), nil}})
		})
	}
}

// TestTruncateFailureIsRetryable: a DeleteRecords the broker refused fails
// retryably, and Truncate again works.
func TestTruncateFailureIsRetryable(t *testing.T) {
	c := startCluster(t)
	w := open(t, newOpener(t, c), channelName(t), 1, walimpls.ReadWrite)
	var last int64
	for i := range 3 {
		last = mustAppend(t, w, fmt.Sprint(i), nil)
	}
	c.FailRequests(kmsg.DeleteRecords, "", kerr.PolicyViolation, 1)
	id := helper.NewInt64ID(Name, last-1)
	if err := w.Truncate(context.Background(), id); !walimpls.IsRetryable(err) {
		t.Fatalf("Truncate refused by the broker: %v, want a retryable error", err)
	}
	if err := w.Truncate(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if msgs := readN(t, w, walimpls.DeliverAll(), 1); string(msgs[0].Payload()) != "2" {
		t.Fatalf("after Truncate the log starts with %q, want 2", msgs[0].Payload())
	}
}

// TestAnswerNotAfterLastAckIsRefused: a success answer at or below the
// offset of the writer's last acknowledged batch can only be the broker
// matching the batch to another writer's; the writer refuses it rather
// than acknowledge an offset twice.
func TestAnswerNotAfterLastAckIsRefused(t *testing.T) {
	c := startCluster(t)
	w := open(t, newOpener(t, c), channelName(t), 1, walimpls.ReadWrite)
	last := mustAppend(t, w, "acked", nil)
	c.Kfake().ControlKey(int16(kmsg.Produce), func(r kmsg.Request) (kmsg.Response, error, bool) {
		req := r.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.BaseOffset = rp.Partition, last
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	_, err := w.Append(context.Background(), message.NewMutableMessage([]byte("answered with an old offset"), nil))
	if !errors.Is(err, walimpls.ErrFenced) || errors.Is(err, walimpls.ErrOutcomeUnknown) {
		t.Fatalf("Append answered with the offset of the last ack: %v, want ErrFenced (not stored)", err)
	}
	if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte("later"), nil)); !errors.Is(err, walimpls.ErrFenced) {
		t.Fatalf("next Append: %v, want ErrFenced", err)
	}
}
