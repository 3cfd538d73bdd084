package pulsar

import (
	"math/rand/v2"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/backoff"
)

// reconnectBackoff is the client's DefaultBackoff (doubling from 100 ms up
// to 60 s, plus up to 20 % jitter) on math/rand/v2's shared generator. The
// client's own seeds a math/rand source for every producer, consumer and
// reader: 4.9 KiB kept by each for its lifetime and ~10 µs of CPU to create,
// a quarter of an idle channel's heap and a tenth of Open's CPU with
// thousands of channels.
type reconnectBackoff struct{ d time.Duration }

const (
	minReconnect = 100 * time.Millisecond
	maxReconnect = 60 * time.Second
)

func newReconnectBackoff() backoff.Policy { return &reconnectBackoff{} }

func (b *reconnectBackoff) Next() time.Duration {
	b.d = min(max(2*b.d, minReconnect), maxReconnect)
	return b.d + time.Duration(rand.Float64()*0.2*float64(b.d))
}

func (b *reconnectBackoff) IsMaxBackoffReached() bool { return b.d >= maxReconnect }

func (b *reconnectBackoff) Reset() { b.d = 0 }

// client is pulsar-client-go's client with the driver's defaults for every
// producer, consumer and reader it creates (reconnectBackoff).
type client struct{ pc.Client }

func (c client) CreateProducer(o pc.ProducerOptions) (pc.Producer, error) {
	if o.BackOffPolicyFunc == nil {
		o.BackOffPolicyFunc = newReconnectBackoff
	}
	return c.Client.CreateProducer(o)
}

func (c client) Subscribe(o pc.ConsumerOptions) (pc.Consumer, error) {
	if o.BackOffPolicyFunc == nil {
		o.BackOffPolicyFunc = newReconnectBackoff
	}
	return c.Client.Subscribe(o)
}

func (c client) CreateReader(o pc.ReaderOptions) (pc.Reader, error) {
	if o.BackoffPolicyFunc == nil {
		o.BackoffPolicyFunc = newReconnectBackoff
	}
	return c.Client.CreateReader(o)
}
