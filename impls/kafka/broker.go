package kafka

import (
	"context"
	"sync"
)

// Connections per broker, whatever the number of channels:
//
//   - up to maxPoolConns pooled connections for requests that take turns:
//     metadata, offsets, configs, topic creation, deletes, the log lookups
//     of claims, and scanners' catch-up fetches;
//   - one produce connection (produce.go), shared by every writer whose
//     channel the broker leads, each request carrying the batches of many
//     partitions;
//   - up to pollConns connections that long-poll for every caught-up
//     scanner of the broker at once (source.go).
//
// That is maxPoolConns + 1 + pollConns connections per broker at most,
// bounded like franz-go's kgo (a few per broker), where the driver before
// held one connection per scanner.
const maxPoolConns = 8

// broker is what the client keeps per broker address.
type broker struct {
	c    *client
	addr string
	sem  chan struct{} // one token per pooled connection in use or idle

	mu     sync.Mutex
	idle   []*brokerConn
	closed bool
	sink   *sink   // created on the first produce
	src    *source // created on the first scan
}

// broker returns the broker entry for addr, creating it.
func (c *client) broker(addr string) *broker {
	c.brokersMu.Lock()
	defer c.brokersMu.Unlock()
	b := c.brokers[addr]
	if b == nil {
		b = &broker{c: c, addr: addr, sem: make(chan struct{}, maxPoolConns)}
		if c.closed {
			b.closed = true
		}
		c.brokers[addr] = b
	}
	return b
}

// get lends a pooled connection, dialing one if none is idle; it waits
// while maxPoolConns are lent out. Errors are notSentErrors.
func (b *broker) get(ctx context.Context) (*brokerConn, error) {
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &notSentError{ctx.Err()}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.sem
		return nil, &notSentError{errClientClosed}
	}
	if n := len(b.idle); n > 0 {
		bc := b.idle[n-1]
		b.idle = b.idle[:n-1]
		b.mu.Unlock()
		return bc, nil
	}
	b.mu.Unlock()
	bc, err := b.c.dial(ctx, b.addr)
	if err != nil {
		<-b.sem
		return nil, err
	}
	return bc, nil
}

// put gives a lent connection back; broken drops it, and with it the idle
// ones (the broker may have restarted: they are likely dead too).
func (b *broker) put(bc *brokerConn, broken bool) {
	var drop []*brokerConn
	b.mu.Lock()
	if broken || b.closed {
		drop = append(b.idle, bc)
		b.idle = nil
	} else {
		if cap(bc.req) > 64<<10 {
			bc.req = nil // an idle connection holds no large buffer
		}
		b.idle = append(b.idle, bc)
	}
	b.mu.Unlock()
	<-b.sem
	for _, d := range drop {
		d.Close() //nolint:errcheck // dropping the connection: nothing more is read or sent on it
	}
}

// with runs fn on a pooled connection; an error from fn drops it.
func (b *broker) with(ctx context.Context, fn func(*brokerConn) error) error {
	bc, err := b.get(ctx)
	if err != nil {
		return err
	}
	err = fn(bc)
	b.put(bc, err != nil)
	return err
}

// close closes the idle connections, the produce connection and the fetch
// source; lent connections are closed when they come back.
func (b *broker) close() {
	b.mu.Lock()
	b.closed = true
	idle := b.idle
	b.idle = nil
	sk, src := b.sink, b.src
	b.mu.Unlock()
	for _, bc := range idle {
		bc.Close() //nolint:errcheck // dropping the connection: nothing more is read or sent on it
	}
	if sk != nil {
		sk.close()
	}
	if src != nil {
		src.close()
	}
}
