package pulsar

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/walimpls"
)

// Fencing without ExclusiveWithFencing: pulsar-client-go v0.19.0 cannot take
// a topic from a live exclusive producer, so writers take it from each
// other through one control topic per namespace, controlTopicName. A writer
// opening with term T that finds the producer busy publishes a request with
// T and its topic; every opener of the namespace watches the control topic
// with one reader (not one per writer: an idle channel costs no reader), and
// the opener whose writer holds that topic's producer steps it down if T is
// higher (it flushes, closes the producer, and fails every later Append with
// ErrFenced) and says "released", or says "refused" with its own term. The
// exclusive producer keeps the log linear: nothing the new owner writes can
// interleave with the old owner's appends.

// controlTopicName is the control topic's name in the channels' namespace;
// '=' cannot occur in a channel name (nor in a prefix), so it never
// collides with a channel's topic.
const controlTopicName = "mqwal=fence"

// Properties of control messages.
const (
	fenceKind  = "mqwal.fence.kind" // request, released or refused
	fenceTerm  = "mqwal.fence.term"
	fenceNonce = "mqwal.fence.nonce"
	fenceTopic = "mqwal.fence.topic" // the channel's topic
)

// requestEvery is how often a waiting writer repeats its request: a watcher
// that (re)connects only sees messages published after it did.
const requestEvery = 300 * time.Millisecond

func (c *config) controlTopic() string {
	return "persistent://" + c.tenant + "/" + c.namespace + "/" + controlTopicName
}

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
	fence := w.o.cfg.controlTopic()
	r, rerr := w.o.client.CreateReader(pc.ReaderOptions{Topic: fence, StartMessageID: pc.LatestMessageID(), ReceiverQueueSize: 16})
	if rerr != nil {
		return settle(held)
	}
	defer closeReader(r)
	p, perr := w.o.client.CreateProducer(pc.ProducerOptions{Topic: fence, DisableBatching: true, SendTimeout: -1})
	if perr != nil {
		return settle(held)
	}
	defer p.Close()
	nonce := newNonce()
	for ctx.Err() == nil {
		if _, err := p.Send(ctx, fenceMessage("request", w.topic, w.term, nonce)); err != nil {
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

func fenceMessage(kind, topic string, term int64, nonce string) *pc.ProducerMessage {
	return &pc.ProducerMessage{Properties: map[string]string{
		fenceKind: kind, fenceTerm: strconv.FormatInt(term, 10), fenceNonce: nonce, fenceTopic: topic,
	}}
}

func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fenceWatcher is an opener's reader of the control topic: it hands each
// request to the writers of the opener that hold the request's topic. It
// runs from the first ReadWrite WAL the opener opens until the opener
// closes.
type fenceWatcher struct {
	o       *opener
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	answers sync.WaitGroup

	mu      sync.Mutex
	writers map[string][]*writer // by topic (more than one only with several WALs of a channel in one opener)
	prod    pc.Producer          // answers; created on first use
}

// watch registers w for requests on its topic, starting the watcher if
// this is the opener's first writer.
func (o *opener) watch(w *writer) {
	o.watcherOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		fw := &fenceWatcher{o: o, ctx: ctx, cancel: cancel, done: make(chan struct{}), writers: map[string][]*writer{}}
		o.watcher.Store(fw)
		go fw.run()
	})
	fw := o.watcher.Load()
	if fw == nil {
		return // the opener is closing: this WAL's Open fails
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.writers[w.topic] = append(fw.writers[w.topic], w)
}

// unwatch removes w (on close).
func (o *opener) unwatch(w *writer) {
	fw := o.watcher.Load()
	if fw == nil {
		return
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	ws := slices.DeleteFunc(fw.writers[w.topic], func(x *writer) bool { return x == w })
	if len(ws) == 0 {
		delete(fw.writers, w.topic)
	} else {
		fw.writers[w.topic] = ws
	}
}

// writersOf returns the ReadWrite WALs' writers of this opener on topic.
func (o *opener) writersOf(topic string) []*writer {
	fw := o.watcher.Load()
	if fw == nil {
		return nil
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return slices.Clone(fw.writers[topic])
}

// stopWatcher ends the watcher and the answers it started; the opener's
// WALs are closed by then.
func (o *opener) stopWatcher() {
	o.watcherOnce.Do(func() {}) // no watcher can start after this
	fw := o.watcher.Load()
	if fw == nil {
		return
	}
	fw.cancel()
	<-fw.done
	fw.answers.Wait()
	if fw.prod != nil {
		fw.prod.Close()
	}
}

func (fw *fenceWatcher) run() {
	defer close(fw.done)
	fence := fw.o.cfg.controlTopic()
	for failures := 0; fw.ctx.Err() == nil; failures++ {
		if failures > 0 {
			select {
			case <-time.After(min(time.Duration(failures)*100*time.Millisecond, 2*time.Second)):
			case <-fw.ctx.Done():
				return
			}
		}
		r, err := fw.o.client.CreateReader(pc.ReaderOptions{Topic: fence, StartMessageID: pc.LatestMessageID(), ReceiverQueueSize: 16})
		if err != nil {
			continue
		}
		for {
			m, err := r.Next(fw.ctx)
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
			topic, nonce := props[fenceTopic], props[fenceNonce]
			for _, w := range fw.o.writersOf(topic) {
				fw.answers.Add(1)
				go func() {
					defer fw.answers.Done()
					if kind, ok := w.answer(term); ok {
						fw.send(fenceMessage(kind, topic, w.term, nonce))
					}
				}()
			}
		}
		closeReader(r)
	}
}

// send publishes an answer through the watcher's producer.
func (fw *fenceWatcher) send(m *pc.ProducerMessage) {
	fw.mu.Lock()
	if fw.prod == nil {
		p, err := fw.o.client.CreateProducer(pc.ProducerOptions{Topic: fw.o.cfg.controlTopic(), DisableBatching: true, SendTimeout: -1})
		if err != nil {
			fw.mu.Unlock()
			return // the requester asks again
		}
		fw.prod = p
	}
	p := fw.prod
	fw.mu.Unlock()
	ctx, cancel := context.WithTimeout(fw.ctx, fw.o.cfg.operationTimeout)
	defer cancel()
	_, _ = p.Send(ctx, m)
}

// answer steps down for a higher term ("released") or refuses, if this
// writer holds the producer; ok is false if it does not (another writer,
// or none, holds it).
func (w *writer) answer(term int64) (kind string, ok bool) {
	select {
	case w.lock <- struct{}{}:
	case <-w.ctx.Done():
		return "", false
	}
	if w.prod == nil || w.fenced != nil {
		<-w.lock
		return "", false
	}
	kind = "refused"
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
	return kind, true
}
