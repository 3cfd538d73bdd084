package pulsar_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// A lost SEND_RECEIPT makes the client resend. Without broker deduplication
// the topic then holds two copies; Append must return the first, which is
// what scanners deliver. With deduplication the client gets -1:-1, which
// must never be returned.
func TestLostReceiptGivesFirstCopy(t *testing.T) {
	for _, dedup := range []bool{false, true} {
		t.Run(fmt.Sprintf("dedup=%v", dedup), func(t *testing.T) {
			b := startBroker(t, pulsartest.WithDeduplication(dedup))
			w := openWAL(t, b, "lost", walimpls.ReadWrite)
			a := mustAppend(t, w, "a", nil)
			b.DropNextReceipt(topicPrefix + "lost")
			bID := mustAppend(t, w, "b", message.Properties{"k": "v"})
			c := mustAppend(t, w, "c", nil)
			stored, want := b.NumMessages(topicPrefix+"lost"), 4 // the claim, a, b, c
			if !dedup {
				want = 5 // "b" twice
			}
			if stored != want {
				t.Fatalf("broker stores %d messages, want %d: the fault did not happen as planned", stored, want)
			}
			a0 := a.(pulsar.ID)
			if wantB := pulsar.NewID(a0.Ledger, a0.Entry+1, 0); !bID.EQ(wantB) {
				t.Fatalf("Append after a lost receipt returned %v, want the first copy %v", bID, wantB)
			}
			got := readN(t, w, walimpls.DeliverAll(), 3)
			if p := payloads(got); p != "a b c " {
				t.Fatalf("delivered %q", p)
			}
			for i, id := range []message.MessageID{a, bID, c} {
				if !got[i].MessageID().EQ(id) {
					t.Errorf("message %d delivered as %v, appended as %v", i, got[i].MessageID(), id)
				}
			}
			if v, _ := got[1].Properties().Get("k"); v != "v" || len(got[1].Properties()) != 1 {
				t.Errorf("properties of b: %v", got[1].Properties())
			}
			// Starting at the second copy's neighbourhood must not deliver it.
			if got := readN(t, w, walimpls.StartAfter(bID), 1); string(got[0].Payload()) != "c" {
				t.Fatalf("StartAfter(b) delivered %q", got[0].Payload())
			}
		})
	}
}

// A second ReadWrite WAL of a channel cannot append while the first holds
// the exclusive producer: a retryable ErrUnavailable, then success once the
// first closes.
func TestSecondWriterIsBusyUntilFirstCloses(t *testing.T) {
	b := startBroker(t)
	first := openWAL(t, b, "busy", walimpls.ReadWrite)
	mustAppend(t, first, "one", nil)
	second := openWAL(t, b, "busy", walimpls.ReadWrite)
	_, err := second.Append(context.Background(), message.NewMutableMessage([]byte("two"), nil))
	if !errors.Is(err, walimpls.ErrUnavailable) || !walimpls.IsRetryable(err) {
		t.Fatalf("Append by a second writer: %v, want retryable ErrUnavailable", err)
	}
	first.Close()
	id := mustAppend(t, second, "two", nil)
	got := readN(t, second, walimpls.DeliverAll(), 2)
	if payloads(got) != "one two " || !got[1].MessageID().EQ(id) {
		t.Fatalf("after handover: %q, last %v want %v", payloads(got), got[1].MessageID(), id)
	}
}

func TestAppendRefusesDriverProperty(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "forge", walimpls.ReadWrite)
	_, err := w.Append(context.Background(), message.NewMutableMessage(nil, message.Properties{pulsar.SeqProperty: "7"}))
	if !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Fatalf("Append with %s: %v", pulsar.SeqProperty, err)
	}
	// Other reserved properties (the adaptor's) pass through.
	mustAppend(t, w, "x", message.Properties{message.ReservedPropertyPrefix + "term": "3"})
	got := readN(t, w, walimpls.DeliverAll(), 1)
	if v, _ := got[0].Properties().Get(message.ReservedPropertyPrefix + "term"); v != "3" {
		t.Fatalf("reserved adaptor property lost: %v", got[0].Properties())
	}
}

// When the broker announces a smaller max_message_size than configured,
// the client refuses the message before sending it: ErrMessageTooLarge,
// nothing written, and the writer carries on without a gap.
func TestBrokerLimitBelowConfigured(t *testing.T) {
	b := startBroker(t, pulsartest.WithMaxMessageSize(64<<10))
	w := openWAL(t, b, "small-limit", walimpls.ReadWrite)
	a := mustAppend(t, w, "a", nil)
	if _, err := w.Append(context.Background(), message.NewMutableMessage(make([]byte, 100<<10), nil)); !errors.Is(err, walimpls.ErrMessageTooLarge) {
		t.Fatalf("Append above the broker's limit: %v, want ErrMessageTooLarge", err)
	}
	c := mustAppend(t, w, "c", nil)
	if n := b.NumMessages(topicPrefix + "small-limit"); n != 3 {
		t.Fatalf("broker stores %d messages, want the claim, a and c", n)
	}
	got := readN(t, w, walimpls.DeliverAll(), 2)
	if payloads(got) != "a c " || !got[0].MessageID().EQ(a) || !got[1].MessageID().EQ(c) {
		t.Fatalf("delivered %q", payloads(got))
	}
	// The plain view shows consecutive sequence numbers: no gap to confirm.
	cons, err := rawClient(t, b).Subscribe(pc.ConsumerOptions{Topic: topicPrefix + "small-limit", SubscriptionName: "check",
		SubscriptionInitialPosition: pc.SubscriptionPositionEarliest})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for want := range 3 { // the claim, a, c
		m, err := cons.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if m.Properties()[pulsar.SeqProperty] != fmt.Sprint(want) {
			t.Fatalf("message %q has sequence %q, want %d", m.Payload(), m.Properties()[pulsar.SeqProperty], want)
		}
	}
}
