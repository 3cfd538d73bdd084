package pulsartest_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// The benchmarks measure the real client against pulsartest with 1 KiB
// random payloads, to show the broker is not what limits a driver's
// benchmark. Run with:
//
//	go test -run '^$' -bench . -benchtime 20000x ./impls/pulsar/pulsartest/

func payload1K(b *testing.B) []byte {
	p := make([]byte, 1024)
	if _, err := rand.Read(p); err != nil {
		b.Fatal(err)
	}
	return p
}

func reportRate(b *testing.B, n int, d time.Duration) {
	b.ReportMetric(float64(n)/d.Seconds(), "msgs/s")
}

func BenchmarkProduceSend(b *testing.B) {
	for _, batching := range []bool{false, true} {
		name := "batching=off"
		if batching {
			name = "batching=on"
		}
		b.Run(name, func(b *testing.B) {
			br := startBroker(b)
			c := newClient(b, br)
			p := newProducer(b, c, pulsar.ProducerOptions{Topic: newTopic(b), DisableBatching: !batching})
			msg := &pulsar.ProducerMessage{Payload: payload1K(b)}
			ctx := ctxTimeout(b)
			b.SetBytes(1024)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := p.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N, time.Since(start))
		})
	}
}

func BenchmarkProduceSendAsync(b *testing.B) {
	for _, batching := range []bool{false, true} {
		name := "batching=off"
		if batching {
			name = "batching=on"
		}
		b.Run(name, func(b *testing.B) {
			br := startBroker(b)
			c := newClient(b, br)
			p := newProducer(b, c, pulsar.ProducerOptions{
				Topic: newTopic(b), DisableBatching: !batching, MaxPendingMessages: 10000,
			})
			msg := &pulsar.ProducerMessage{Payload: payload1K(b)}
			ctx := ctxTimeout(b)
			errs := make(chan error, 1)
			b.SetBytes(1024)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				p.SendAsync(ctx, msg, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
					if err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				})
			}
			if err := p.FlushWithCtx(ctx); err != nil {
				b.Fatal(err)
			}
			reportRate(b, b.N, time.Since(start))
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
		})
	}
}

func BenchmarkConsume(b *testing.B) {
	for _, batching := range []bool{false, true} {
		name := "batching=off"
		if batching {
			name = "batching=on"
		}
		b.Run(name, func(b *testing.B) {
			br := startBroker(b)
			c := newClient(b, br)
			topic := newTopic(b)
			p := newProducer(b, c, pulsar.ProducerOptions{
				Topic: topic, DisableBatching: !batching, MaxPendingMessages: 10000,
			})
			msg := &pulsar.ProducerMessage{Payload: payload1K(b)}
			ctx := ctxTimeout(b)
			for range b.N {
				p.SendAsync(ctx, msg, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
					if err != nil {
						b.Error(err)
					}
				})
			}
			if err := p.FlushWithCtx(ctx); err != nil {
				b.Fatal(err)
			}
			cons, err := c.Subscribe(pulsar.ConsumerOptions{
				Topic: topic, SubscriptionName: "bench", Type: pulsar.Exclusive,
				SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer cons.Close()
			b.SetBytes(1024)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				m, err := cons.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := cons.Ack(m); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N, time.Since(start))
		})
	}
}
