package pulsar_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// A broker deletes closed ledgers that no durable subscription needs
// (default retention 0). Everything appended before the first Truncate
// must survive that: the truncation subscription exists from the first
// ReadWrite Open.
func TestUntruncatedDataSurvivesRollover(t *testing.T) {
	for name, roll := range map[string]func(*pulsartest.Broker) error{
		"RollLedgers": func(b *pulsartest.Broker) error { b.RollLedgers(); return nil },
		"Restart":     func(b *pulsartest.Broker) error { return b.Restart() },
	} {
		t.Run(name, func(t *testing.T) {
			if name == "Restart" && raceDetector {
				t.Skip("reconnects: run by TestFaultsWithoutRaceDetector in a plain build (pulsar-client-go v0.19.0 races on reconnect)")
			}
			b := startBroker(t)
			w := openWAL(t, b, "keep", walimpls.ReadWrite)
			appendN(t, w, 0, 5)
			if err := roll(b); err != nil {
				t.Fatal(err)
			}
			b.Housekeep()
			if n := b.NumMessages(topicPrefix + "keep"); n != 6 {
				t.Fatalf("broker holds %d of 5 appended, never truncated messages and the claim", n)
			}
			mustAppend(t, w, "m5", nil)
			if got := readN(t, w, walimpls.DeliverAll(), 6); payloads(got) != "m0 m1 m2 m3 m4 m5 " {
				t.Fatalf("DeliverAll after rollover: %q", payloads(got))
			}
		})
	}
}

// Truncate(id) may let the broker delete up to id, but a scanner resumes
// with StartAfter(id) by reading id first, so id itself stays: the
// subscription acknowledges what lies before it.
func TestTruncatedResumePointSurvivesTrim(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "resume", walimpls.ReadWrite)
	ids := appendN(t, w, 0, 3)
	b.RollLedgers() // m0..m2 in a closed ledger, m2 last in it
	ids = append(ids, appendN(t, w, 3, 2)...)
	if err := w.Truncate(context.Background(), ids[2]); err != nil {
		t.Fatal(err)
	}
	b.Housekeep()
	if got := readN(t, w, walimpls.StartAfter(ids[2]), 2); payloads(got) != "m3 m4 " {
		t.Fatalf("StartAfter(truncation point) delivered %q", payloads(got))
	}
	// Truncating to the last message and restarting (a new ledger, the old
	// ones closed) keeps the channel's tail, so a new writer continues it
	// and a reader resumes after the truncation point.
	if err := w.Truncate(context.Background(), ids[4]); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	b.Housekeep()
	w = openWAL(t, b, "resume", walimpls.ReadWrite)
	m5 := mustAppend(t, w, "m5", nil)
	got := readN(t, w, walimpls.StartAfter(ids[4]), 1)
	if payloads(got) != "m5 " || !got[0].MessageID().EQ(m5) {
		t.Fatalf("StartAfter(last truncated) after restart delivered %q", payloads(got))
	}
	// Below the truncation point the broker may have deleted: that is out
	// of range, never a silent skip.
	if _, err := readNErr(w, walimpls.StartAfter(ids[1])); !errors.Is(err, walimpls.ErrOutOfRange) {
		t.Fatalf("StartAfter below the deleted range: %v, want ErrOutOfRange", err)
	}
}

// readNErr reads until the scanner fails or delivers its first message.
func readNErr(w walimpls.ROWALImpls, p walimpls.DeliverPolicy) (message.ImmutableMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: p})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	select {
	case m, ok := <-s.Chan():
		if ok {
			return m, nil
		}
		return nil, s.Error()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
