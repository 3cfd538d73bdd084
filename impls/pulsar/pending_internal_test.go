package pulsar

import (
	"errors"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

func testWriter(maxSize int) *writer {
	cfg := defaultConfig()
	cfg.maxMessageSize = maxSize
	return &writer{o: &opener{cfg: cfg}, channel: "c", termText: "3"}
}

// A reused pending must carry nothing of the message it sent before, and
// fill must never write into the caller's properties.
func TestFillReusesPendingCleanly(t *testing.T) {
	w := testWriter(DefaultMaxMessageSize)
	own := message.Properties{"a": "1"}
	p, err := w.fill(message.NewMutableMessage([]byte("x"), own))
	if err != nil {
		t.Fatal(err)
	}
	p.msg.Properties[SeqProperty] = "9" // as sendLocked does
	if len(own) != 1 {
		t.Fatalf("caller's properties changed: %v", own)
	}
	p.msg.SequenceID = new(int64)
	p.rejected.Store(true)
	w.recycle(p)
	// Checked on p itself: sync.Pool may drop it (it does at random under -race).
	if len(p.msg.Properties) != 0 || p.msg.Payload != nil || p.msg.SequenceID != nil || p.rejected.Load() {
		t.Fatalf("recycled pending keeps %v, payload %q, sequence id %v, rejected %v", p.msg.Properties, p.msg.Payload, p.msg.SequenceID, p.rejected.Load())
	}
	q, err := w.fill(message.NewMutableMessage([]byte("y"), message.Properties{"b": "2"}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"b": "2", TermProperty: "3"}
	if len(q.msg.Properties) != len(want) || q.msg.Properties["b"] != "2" || q.msg.Properties[TermProperty] != "3" {
		t.Fatalf("properties %v, want %v", q.msg.Properties, want)
	}
	if string(q.msg.Payload) != "y" {
		t.Fatalf("payload %q, want y", q.msg.Payload)
	}
}

func TestFillRefuses(t *testing.T) {
	w := testWriter(2048)
	for _, c := range []struct {
		name  string
		msg   message.MutableMessage
		wantE error
	}{
		{"seq property", message.NewMutableMessage(nil, message.Properties{SeqProperty: "1"}), walimpls.ErrInvalidArgument},
		{"term property", message.NewMutableMessage(nil, message.Properties{TermProperty: "1"}), walimpls.ErrInvalidArgument},
		{"payload over the limit", message.NewMutableMessage(make([]byte, 2048), nil), walimpls.ErrMessageTooLarge},
		{"properties over the limit", message.NewMutableMessage(nil, message.Properties{"k": string(make([]byte, 2000))}), walimpls.ErrMessageTooLarge},
	} {
		if _, err := w.fill(c.msg); !errors.Is(err, c.wantE) {
			t.Errorf("%s: %v, want %v", c.name, err, c.wantE)
		}
	}
	if _, err := w.fill(message.NewMutableMessage(make([]byte, 1024), message.Properties{"k": "v"})); err != nil {
		t.Fatalf("a message within the limit: %v", err)
	}
}
