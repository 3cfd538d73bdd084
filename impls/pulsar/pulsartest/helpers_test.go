package pulsartest_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"
	"go.uber.org/goleak"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleakOptions()...)
}

// goleakOptions lists goroutines pulsar-client-go leaves behind after
// Client.Close; nothing of pulsartest's own is ignored.
func goleakOptions() []goleak.Option {
	return []goleak.Option{
		// Each producer's send-timeout loop only notices the producer is
		// closed when its timer (SendTimeout, 30 s by default) next fires.
		goleak.IgnoreTopFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionProducer).failTimeoutMessages"),
		// Each chunked message received starts a goroutine that waits out
		// the incomplete-chunk expiry (60 s by default) even when complete.
		goleak.IgnoreTopFunction("github.com/apache/pulsar-client-go/pulsar.(*chunkedMsgCtxMap).discardChunkIfExpire"),
		// After a (re)subscribe the consumer signals its dispatcher from a
		// new goroutine on an unbuffered channel; when the consumer is
		// closed first, nobody receives and the goroutine stays.
		goleak.IgnoreAnyFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionConsumer).grabConn.func1"),
	}
}

// testLogger keeps broker logs out of test output unless -v is given.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startBroker(t testing.TB, opts ...pulsartest.Option) *pulsartest.Broker {
	t.Helper()
	opts = append([]pulsartest.Option{pulsartest.WithLogger(testLogger())}, opts...)
	b, err := pulsartest.Start(opts...)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close broker: %v", err)
		}
	})
	return b
}

func newClient(t testing.TB, b *pulsartest.Broker) pulsar.Client {
	t.Helper()
	c, err := pulsar.NewClient(pulsar.ClientOptions{
		URL:               b.URL(),
		Logger:            plog.DefaultNopLogger(),
		OperationTimeout:  10 * time.Second,
		ConnectionTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

var topicSeq atomic.Int64

func newTopic(t testing.TB) string {
	return fmt.Sprintf("persistent://public/default/%s-%d", t.Name(), topicSeq.Add(1))
}

func ctxTimeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newProducer(t testing.TB, c pulsar.Client, opts pulsar.ProducerOptions) pulsar.Producer {
	t.Helper()
	p, err := c.CreateProducer(opts)
	if err != nil {
		t.Fatalf("create producer: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func send(t testing.TB, p pulsar.Producer, payload string) pulsar.MessageID {
	t.Helper()
	id, err := p.Send(ctxTimeout(t), &pulsar.ProducerMessage{Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("send %q: %v", payload, err)
	}
	return id
}

// sendBatch sends payloads with SendAsync and a flush, so a batching producer
// puts them in one batch, and returns their ids in order.
func sendBatch(t testing.TB, p pulsar.Producer, payloads ...string) []pulsar.MessageID {
	t.Helper()
	ids := make([]pulsar.MessageID, len(payloads))
	errs := make(chan error, len(payloads))
	for i, s := range payloads {
		p.SendAsync(ctxTimeout(t), &pulsar.ProducerMessage{Payload: []byte(s)},
			func(id pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				ids[i] = id
				errs <- err
			})
	}
	if err := p.FlushWithCtx(ctxTimeout(t)); err != nil {
		t.Fatalf("flush: %v", err)
	}
	for range payloads {
		if err := <-errs; err != nil {
			t.Fatalf("send async: %v", err)
		}
	}
	return ids
}

func receive(t testing.TB, c pulsar.Consumer) pulsar.Message {
	t.Helper()
	m, err := c.Receive(ctxTimeout(t))
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return m
}

func readNext(t testing.TB, r pulsar.Reader) pulsar.Message {
	t.Helper()
	m, err := r.Next(ctxTimeout(t))
	if err != nil {
		t.Fatalf("reader next: %v", err)
	}
	return m
}

// expectNoMessage checks that nothing arrives within a short window. It is
// the one place a test waits for an absence, bounded by d.
func expectNoMessage(t testing.TB, c pulsar.Consumer, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, err := c.Receive(ctx); err == nil {
		t.Fatalf("unexpected message %q (%v)", m.Payload(), m.ID())
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sameID(a, b pulsar.MessageID) bool {
	return a.LedgerID() == b.LedgerID() && a.EntryID() == b.EntryID() && a.BatchIdx() == b.BatchIdx()
}
