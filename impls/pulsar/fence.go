package pulsar

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/walimpls"
)

// Fencing without ExclusiveWithFencing: pulsar-client-go v0.19.0 cannot take
// a topic from a live exclusive producer, so writers take it from each
// other through a small control topic per channel. A writer opening with
// term T that finds the producer busy publishes a request with T; the
// holder, which watches the control topic while it holds the producer,
// steps down if T is higher (it flushes, closes its producer, and fails
// every later Append with ErrFenced) and says "released", or says "refused"
// with its own term. The exclusive producer keeps the log linear: nothing
// the new owner writes can interleave with the old owner's appends.

// fenceSuffix makes the control topic's name; '=' cannot occur in a
// channel name, so it never collides with a channel's topic.
const fenceSuffix = "=mqwal-fence"

// Properties of control messages.
const (
	fenceKind  = "mqwal.fence.kind" // request, released or refused
	fenceTerm  = "mqwal.fence.term"
	fenceNonce = "mqwal.fence.nonce"
)

// requestEvery is how often a waiting writer repeats its request: a new
// holder only watches messages published after it took the producer.
const requestEvery = 300 * time.Millisecond

func isBusy(err error) bool { return errors.Is(err, errHeld) }

// open takes the producer when a ReadWrite WAL opens, asking a lower-term
// holder to step down. Open returns with the producer held, so that no lower
// term can store anything afterwards: the broker's topic epoch fences the
// old producer's reconnect, and a new producer of a lower term finds this
// term in the topic (claim). It fails with ErrFenced when a higher term
// holds or wrote the channel, and with a retryable ErrUnavailable when the
// producer stays out of reach (a holder that does not step down within the
// operation timeout, the broker away). Only an equal term's holder lets Open
// succeed without the producer: the first Append tries again.
func (w *writer) open(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, w.o.cfg.operationTimeout)
	defer cancel()
	settle := func(err error) error { return w.settle(parent, err) }
	select {
	case w.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-w.lock }()
	err := w.acquire(ctx)
	if !isBusy(err) {
		return settle(err)
	}
	held := err
	fence := w.topic + fenceSuffix
	r, rerr := w.o.client.CreateReader(pc.ReaderOptions{Topic: fence, StartMessageID: pc.LatestMessageID(), ReceiverQueueSize: 16})
	if rerr != nil {
		return settle(held)
	}
	defer r.Close()
	p, perr := w.o.client.CreateProducer(pc.ProducerOptions{Topic: fence, DisableBatching: true, SendTimeout: -1})
	if perr != nil {
		return settle(held)
	}
	defer p.Close()
	nonce := newNonce()
	for ctx.Err() == nil {
		if _, err := p.Send(ctx, fenceMessage("request", w.term, nonce)); err != nil {
			return settle(held)
		}
		kind, term := awaitAnswer(ctx, r, nonce)
		if kind == "refused" {
			if term > w.term {
				return settle(w.fencedBy(term, nil))
			}
			return nil // an equal term holds the channel: Append reports it as busy
		}
		err := w.acquire(ctx)
		if !isBusy(err) {
			return settle(err)
		}
		held = err
	}
	return settle(fmt.Errorf("%w: the holder did not step down within %v", held, w.o.cfg.operationTimeout))
}

// settle turns the outcome of taking the producer at Open into Open's
// result: the caller's ctx error when it ended, ErrFenced (remembered),
// else a retryable ErrUnavailable.
func (w *writer) settle(parent context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case parent.Err() != nil:
		return parent.Err()
	case errors.Is(err, walimpls.ErrFenced):
		w.setFenced(err)
		return err
	case errors.Is(err, walimpls.ErrUnavailable) || errors.Is(err, walimpls.ErrInvalidArgument):
		return err
	}
	return fmt.Errorf("%w: pulsar channel %q: take the producer: %w", walimpls.ErrUnavailable, w.channel, err)
}

// awaitAnswer waits up to requestEvery for the holder's answer to nonce.
func awaitAnswer(ctx context.Context, r pc.Reader, nonce string) (kind string, term int64) {
	ctx, cancel := context.WithTimeout(ctx, requestEvery)
	defer cancel()
	for {
		m, err := r.Next(ctx)
		if err != nil {
			return "", 0
		}
		props := m.Properties()
		if props[fenceNonce] != nonce || props[fenceKind] == "request" {
			continue
		}
		term, _ := strconv.ParseInt(props[fenceTerm], 10, 64)
		return props[fenceKind], term
	}
}

func fenceMessage(kind string, term int64, nonce string) *pc.ProducerMessage {
	return &pc.ProducerMessage{Properties: map[string]string{
		fenceKind: kind, fenceTerm: strconv.FormatInt(term, 10), fenceNonce: nonce,
	}}
}

func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// watch answers requests on the control topic while the writer lives.
func (w *writer) watch() {
	defer w.bg.Done()
	fence := w.topic + fenceSuffix
	for failures := 0; w.ctx.Err() == nil; failures++ {
		if failures > 0 {
			select {
			case <-time.After(min(time.Duration(failures)*100*time.Millisecond, 2*time.Second)):
			case <-w.ctx.Done():
				return
			}
		}
		r, err := w.o.client.CreateReader(pc.ReaderOptions{Topic: fence, StartMessageID: pc.LatestMessageID(), ReceiverQueueSize: 16})
		if err != nil {
			continue
		}
		for {
			m, err := r.Next(w.ctx)
			if err != nil {
				break
			}
			failures = 0
			props := m.Properties()
			if props[fenceKind] != "request" {
				continue
			}
			term, err := strconv.ParseInt(props[fenceTerm], 10, 64)
			if err != nil {
				continue
			}
			w.answer(fence, term, props[fenceNonce])
		}
		r.Close()
	}
}

// answer steps down for a higher term or refuses, if this writer holds the
// producer; otherwise the holder answers.
func (w *writer) answer(fence string, term int64, nonce string) {
	select {
	case w.lock <- struct{}{}:
	case <-w.ctx.Done():
		return
	}
	if w.prod == nil || w.fenced != nil {
		<-w.lock
		return
	}
	kind := "refused"
	var prod pc.Producer
	if term > w.term {
		kind, prod = "released", w.setProducer(nil)
		w.setFenced(fmt.Errorf("%w: pulsar channel %q: term %d took over from term %d", walimpls.ErrFenced, w.channel, term, w.term))
	}
	<-w.lock
	if prod != nil {
		// What was submitted before the request is legitimate: the new
		// owner has written nothing yet. Flush it, then let go.
		ctx, cancel := context.WithTimeout(w.ctx, w.o.cfg.operationTimeout/2)
		_ = prod.FlushWithCtx(ctx)
		cancel()
		prod.Close()
	}
	p, err := w.o.client.CreateProducer(pc.ProducerOptions{Topic: fence, DisableBatching: true, SendTimeout: -1})
	if err != nil {
		return
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(w.ctx, w.o.cfg.operationTimeout)
	defer cancel()
	_, _ = p.Send(ctx, fenceMessage(kind, w.term, nonce))
}
