package kafka

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
	"github.com/mqwal/mqwal/walimpls/registry"
)

// Name is the backend name of this driver.
const Name = "kafka"

// MaxTerm is the highest term a ReadWrite WAL can open with: the term is
// the idempotent producer's epoch, an int16.
const MaxTerm = 1<<15 - 1

// batchReserve is what MaxMessageSize leaves below message.max.bytes for
// the batch header and record framing of a single message.
const batchReserve = 1024

// fenceHeader marks the record a ReadWrite open writes to claim the
// channel for its term. Scanners skip it; its value is the term.
const fenceHeader = "_mqwal.kafka.fence"

func init() {
	helper.RegisterInt64ID(Name)
	registry.RegisterBuilder(NewBuilder(WithBrokers(DefaultBroker)))
}

// Option configures a Builder.
type Option interface{ apply(*Builder) }

type optionFunc func(*Builder)

func (f optionFunc) apply(b *Builder) { f(b) }

// WithConfig replaces the whole configuration.
func WithConfig(c Config) Option { return optionFunc(func(b *Builder) { b.cfg = c }) }

// WithBrokers sets the seed brokers.
func WithBrokers(brokers ...string) Option {
	return optionFunc(func(b *Builder) { b.cfg.Brokers = append([]string(nil), brokers...) })
}

// WithTopicPrefix sets the prefix of every channel's topic.
func WithTopicPrefix(prefix string) Option {
	return optionFunc(func(b *Builder) { b.cfg.TopicPrefix = prefix })
}

// WithSASL authenticates with mechanism (SASLPlain, SASLScramSHA256,
// SASLScramSHA512).
func WithSASL(mechanism, user, pass string) Option {
	return optionFunc(func(b *Builder) { b.cfg.SASL = &SASLConfig{Mechanism: mechanism, Username: user, Password: pass} })
}

// Builder builds Kafka openers. The registered one reaches DefaultBroker
// (localhost:9092) with the defaults; build your own with NewBuilder, or
// load a config (package config), for anything else.
type Builder struct {
	cfg Config
}

// NewBuilder returns a builder with opts applied.
func NewBuilder(opts ...Option) *Builder {
	b := &Builder{}
	for _, o := range opts {
		o.apply(b)
	}
	return b
}

// Name is "kafka".
func (b *Builder) Name() string { return Name }

// Build validates the configuration and creates the client. It reads the
// brokers' message.max.bytes and producer.id.expiration.ms unless the
// Config sets them; if no broker answers within DialTimeout it assumes
// Kafka's default message size (a larger message is then refused by the
// broker, still as ErrMessageTooLarge) and DefaultProducerIDExpiration.
func (b *Builder) Build() (walimpls.OpenerImpls, error) {
	cfg, err := b.cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	var bcfg map[string]string
	if cfg.MaxMessageBytes == 0 || cfg.ProducerIDExpiration == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout)
		bcfg, _ = c.brokerConfigs(ctx, "message.max.bytes", "producer.id.expiration.ms")
		cancel()
	}
	limit := cfg.MaxMessageBytes
	if limit == 0 {
		if limit, err = strconv.Atoi(bcfg["message.max.bytes"]); err != nil || limit < 2*batchReserve {
			limit = DefaultBrokerMaxMessageBytes
		}
	}
	expiry := cfg.ProducerIDExpiration
	if expiry == 0 {
		expiry = DefaultProducerIDExpiration
		if ms, err := strconv.ParseInt(bcfg["producer.id.expiration.ms"], 10, 64); err == nil && ms > 0 {
			expiry = time.Duration(ms) * time.Millisecond
		}
	}
	c.maxBatch = limit
	return &opener{
		cfg:      cfg,
		client:   c,
		maxBatch: limit,
		reverify: expiry / 2,
		caps:     walimpls.Capabilities{Fencing: true, PhysicalTruncate: true, MaxMessageSize: limit - batchReserve},
		writers:  map[string]*wal{},
		claims:   map[string]*channelLock{},
	}, nil
}

type opener struct {
	cfg      Config
	client   *client
	caps     walimpls.Capabilities
	maxBatch int
	reverify time.Duration // a writer idle this long checks ownership from the log
	wals     helper.Lifetime

	mu      sync.Mutex
	writers map[string]*wal         // the open ReadWrite WAL of each channel
	claims  map[string]*channelLock // channels with a ReadWrite Open under way
}

// channelLock serializes the ReadWrite Opens of one channel in an opener,
// so the newer of two same-term Opens always fences the older; channels do
// not wait for each other. A buffered channel of capacity one is a lock
// whose wait honours ctx.
type channelLock struct {
	sem   chan struct{}
	users int // Opens holding or waiting for it; o.mu
}

// lockChannel waits for the channel's lock and returns its unlock.
func (o *opener) lockChannel(ctx context.Context, channel string) (func(), error) {
	o.mu.Lock()
	l := o.claims[channel]
	if l == nil {
		l = &channelLock{sem: make(chan struct{}, 1)}
		o.claims[channel] = l
	}
	l.users++
	o.mu.Unlock()
	release := func() {
		o.mu.Lock()
		if l.users--; l.users == 0 {
			delete(o.claims, channel)
		}
		o.mu.Unlock()
	}
	select {
	case l.sem <- struct{}{}:
		return func() { <-l.sem; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

func (o *opener) Capabilities() walimpls.Capabilities { return o.caps }

func (o *opener) topic(channel string) string { return o.cfg.TopicPrefix + channel }

// Open validates opt, checks the channel's topic (a ReadWrite open
// creates it if needed; a ReadOnly open of a missing one fails with
// ErrNotFound; one with several partitions is ErrInvalidArgument) and, for
// ReadWrite, claims the channel for the term: it recovers the channel producer's
// sequence from the log and writes a fence record with epoch = term, which
// makes the broker refuse every later batch of a lower term (ErrFenced).
func (o *opener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	ch := opt.Channel
	if ch.AccessMode == walimpls.ReadWrite && ch.Term > MaxTerm {
		return nil, fmt.Errorf("%w: channel %q term %d: the kafka driver supports terms 0..%d (the producer epoch is an int16)",
			walimpls.ErrInvalidArgument, ch.Name, ch.Term, MaxTerm)
	}
	if err := o.wals.Check("kafka opener"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	topic := o.topic(ch.Name)
	if err := o.client.openTopic(ctx, topic, ch.Name, ch.AccessMode); err != nil {
		return nil, err
	}
	w := &wal{
		WALBase: helper.NewWALBase(Name, ch, o.caps.MaxMessageSize),
		o:       o,
		topic:   topic,
	}
	if ch.AccessMode == walimpls.ReadWrite {
		if err := o.openWriter(ctx, w); err != nil {
			return nil, err
		}
	}
	remove, err := o.wals.Add("kafka opener", func() { w.Close() })
	if err != nil {
		w.Close()
		return nil, err
	}
	w.removeFromOpener = remove
	return w, nil
}

// openWriter claims w's channel for its term and starts its writer. A
// same-term WAL this opener has open is fenced first.
func (o *opener) openWriter(ctx context.Context, w *wal) error {
	ch := w.Channel()
	unlock, err := o.lockChannel(ctx, ch.Name)
	if err != nil {
		return fmt.Errorf("%w: kafka channel %q: waiting for another Open of it: %w", walimpls.ErrUnavailable, ch.Name, err)
	}
	defer unlock()
	o.mu.Lock()
	prev := o.writers[ch.Name]
	o.mu.Unlock()
	if prev != nil && prev.Channel().Term >= ch.Term {
		// Two writers with one epoch would share a sequence; the broker
		// cannot tell them apart, so the older one goes first.
		if prev.Channel().Term > ch.Term {
			return fmt.Errorf("%w: kafka channel %q: term %d is open in this opener, %d is lower", walimpls.ErrFenced, ch.Name, prev.Channel().Term, ch.Term)
		}
		prev.fence(fmt.Errorf("%w: kafka channel %q reopened with the same term %d", walimpls.ErrFenced, ch.Name, ch.Term))
	}
	cl, err := claim(ctx, o.client, w.topic, ch)
	if err != nil {
		return err
	}
	w.writer = newWriter(w, cl)
	o.mu.Lock()
	if cur := o.writers[ch.Name]; cur == nil || cur.Channel().Term <= ch.Term {
		o.writers[ch.Name] = w
	}
	o.mu.Unlock()
	return nil
}

func (o *opener) forget(w *wal) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.writers[w.Channel().Name] == w {
		delete(o.writers, w.Channel().Name)
	}
}

func (o *opener) Close() {
	if o.wals.Close() {
		o.client.close()
	}
}

func termString(t int64) string { return strconv.FormatInt(t, 10) }
