package pulsar

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// scriptedMessage is another client's message (no mqwal stamp) at a
// position.
type scriptedMessage struct {
	pc.Message
	id      ID
	payload string
}

func (m scriptedMessage) ID() pc.MessageID              { return pc.NewMessageID(m.id.Ledger, m.id.Entry, -1, 0) }
func (m scriptedMessage) Payload() []byte               { return []byte(m.payload) }
func (m scriptedMessage) Properties() map[string]string { return nil }
func (m scriptedMessage) ProducerName() string          { return "another-client" }
func (m scriptedMessage) Key() string                   { return "" }
func (m scriptedMessage) OrderingKey() string           { return "" }
func (m scriptedMessage) EventTime() time.Time          { return time.Time{} }

// scriptedReader delivers msgs, then waits.
type scriptedReader struct {
	pc.Reader
	msgs   []scriptedMessage
	closed chan struct{}
	once   sync.Once
}

func (r *scriptedReader) Next(ctx context.Context) (pc.Message, error) {
	if len(r.msgs) > 0 {
		select {
		case <-r.closed:
			return nil, errors.New("reader closed")
		default:
		}
		m := r.msgs[0]
		r.msgs = r.msgs[1:]
		return m, nil
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.closed:
		return nil, errors.New("reader closed")
	}
}

func (r *scriptedReader) Close() { r.once.Do(func() { close(r.closed) }) }

// skippingClient creates readers over log from their start position,
// inclusive; the first one leaves out the entry skip, as a client's reader
// can across a reconnect.
type skippingClient struct {
	pc.Client
	log     []scriptedMessage
	skip    ID
	mu      sync.Mutex
	readers int
}

func (c *skippingClient) CreateReader(opts pc.ReaderOptions) (pc.Reader, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readers++
	from := idOf(opts.StartMessageID)
	var msgs []scriptedMessage
	for _, m := range c.log {
		if (from.Ledger < 0 || m.id.cmp(from) >= 0) && (c.readers > 1 || m.id != c.skip) {
			msgs = append(msgs, m)
		}
	}
	return &scriptedReader{msgs: msgs, closed: make(chan struct{})}, nil
}

// A later ledger's first entry follows any position, so a reader that
// skipped the last entry of a ledger (here another client's message, which
// has no sequence number to show the gap) passed unnoticed: the scanner
// re-reads once from the last position when the ledger changes.
func TestScannerRereadsAtALedgerChange(t *testing.T) {
	log := []scriptedMessage{
		{id: ID{Ledger: 1, Entry: 0}, payload: "a"},
		{id: ID{Ledger: 1, Entry: 1}, payload: "b"},
		{id: ID{Ledger: 1, Entry: 2}, payload: "c: last of ledger 1"},
		{id: ID{Ledger: 2, Entry: 0}, payload: "d"},
		{id: ID{Ledger: 2, Entry: 1}, payload: "e"},
	}
	c := &skippingClient{log: log, skip: ID{Ledger: 1, Entry: 2}}
	w := &wal{WALBase: helper.NewWALBase(Name, walimpls.Channel{Name: "jump"}, 0), o: &opener{client: client{c}}, topic: "persistent://public/default/jump"}
	s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, want := range log {
		select {
		case m := <-s.Chan():
			if got := string(m.Payload()); got != want.payload || m.MessageID() != want.id {
				t.Fatalf("message %d is %q at %v, want %q at %v", i, got, m.MessageID(), want.payload, want.id)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d (%q) never came: %v", i, want.payload, s.Error())
		}
	}
	select {
	case m := <-s.Chan():
		t.Fatalf("a sixth message %q", m.Payload())
	default:
	}
}
