package kafka

import (
	"context"
	"fmt"
	"strconv"
	"sync"

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
	registry.RegisterBuilder(NewBuilder())
}

// Option configures a Builder.
type Option interface{ apply(*Builder) }

type optionFunc func(*Builder)

func (f optionFunc) apply(b *Builder) { f(b) }

// WithConfig replaces the whole configuration.
func WithConfig(c Config) Option { return optionFunc(func(b *Builder) { b.cfg = c }) }

// WithBrokers sets the seed brokers (EnvBrokers still overrides them).
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

// Builder builds Kafka openers. The registered one reads its brokers from
// EnvBrokers only; build your own with NewBuilder for anything else.
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
// brokers' message.max.bytes unless Config.MaxMessageBytes is set; if no
// broker answers within DialTimeout it assumes Kafka's default (a larger
// message is then refused by the broker, still as ErrMessageTooLarge).
func (b *Builder) Build() (walimpls.OpenerImpls, error) {
	cfg, err := b.cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	limit := cfg.MaxMessageBytes
	if limit == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout)
		limit, err = c.brokerMaxMessageBytes(ctx)
		cancel()
		if err != nil || limit < 2*batchReserve {
			limit = DefaultBrokerMaxMessageBytes
		}
	}
	return &opener{
		cfg:      cfg,
		client:   c,
		maxBatch: limit,
		caps:     walimpls.Capabilities{Fencing: true, PhysicalTruncate: true, MaxMessageSize: limit - batchReserve},
		writers:  map[string]*wal{},
	}, nil
}

type opener struct {
	cfg      Config
	client   *client
	caps     walimpls.Capabilities
	maxBatch int
	wals     helper.Lifetime

	mu      sync.Mutex
	writers map[string]*wal // the open ReadWrite WAL of each channel
}

func (o *opener) Capabilities() walimpls.Capabilities { return o.caps }

func (o *opener) topic(channel string) string { return o.cfg.TopicPrefix + channel }

// Open validates opt, creates the topic if needed and, for ReadWrite,
// claims the channel for the term: it recovers the channel producer's
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
	if err := o.client.ensureTopic(ctx, topic, ch.Name); err != nil {
		return nil, err
	}
	w := &wal{
		WALBase: helper.NewWALBase(Name, ch, o.caps.MaxMessageSize),
		o:       o,
		topic:   topic,
	}
	if ch.AccessMode == walimpls.ReadWrite {
		o.mu.Lock()
		prev := o.writers[ch.Name]
		o.mu.Unlock()
		if prev != nil && prev.Channel().Term >= ch.Term {
			// Two writers with one epoch would share a sequence and could
			// be answered with each other's offsets; never allow that.
			if prev.Channel().Term > ch.Term {
				return nil, fmt.Errorf("%w: kafka channel %q: term %d is open in this opener, %d is lower", walimpls.ErrFenced, ch.Name, prev.Channel().Term, ch.Term)
			}
			prev.fence(fmt.Errorf("%w: kafka channel %q reopened with the same term %d", walimpls.ErrFenced, ch.Name, ch.Term))
		}
		p, err := claim(ctx, o.client, topic, ch)
		if err != nil {
			return nil, err
		}
		w.writer = newWriter(w, p)
		o.mu.Lock()
		if cur := o.writers[ch.Name]; cur == nil || cur.Channel().Term <= ch.Term {
			o.writers[ch.Name] = w
		}
		o.mu.Unlock()
	}
	remove, err := o.wals.Add("kafka opener", func() { w.Close() })
	if err != nil {
		w.Close()
		return nil, err
	}
	w.removeFromOpener = remove
	return w, nil
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
