package pulsar

import (
	"context"
	"fmt"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
)

// closeReader on a reader whose queue is full and which was never read must
// return well within the operation timeout (it does not lean on Close giving
// up), and the client's connection must answer a send right after. The
// goroutine it starts ends with it: the package's TestMain runs goleak.
// (No reconnect here: the client races with itself on reconnect under
// -race; the reconnecting scanners cover closeReader there.)
func TestCloseReaderUnreadIsPromptAndKeepsTheConnection(t *testing.T) {
	const opTimeout = 10 * time.Second
	c := rawClient(t, opTimeout)
	topic := "persistent://public/default/close-reader"
	p, err := c.CreateProducer(pc.ProducerOptions{Topic: topic, DisableBatching: true, SendTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for i := range 50 {
		if _, err := p.Send(ctx, &pc.ProducerMessage{Payload: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		r, err := c.CreateReader(pc.ReaderOptions{Topic: topic, StartMessageID: pc.EarliestMessageID(), ReceiverQueueSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		if round == 1 {
			// One message taken: the dispatcher holds the next, the queue is full.
			if _, err := r.Next(ctx); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		closeReader(r)
		if d := time.Since(start); d > opTimeout/2 {
			t.Fatalf("round %d: closeReader took %v (operation timeout %v)", round, d, opTimeout)
		}
		sctx, cancel := context.WithTimeout(ctx, opTimeout/2)
		_, err = p.Send(sctx, &pc.ProducerMessage{Payload: []byte("after")})
		cancel()
		if err != nil {
			t.Fatalf("round %d: send after closeReader: %v", round, err)
		}
	}
	closeReader(closedReader{}) // a no-op, never a call on a nil reader
}
