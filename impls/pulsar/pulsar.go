package pulsar

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
	"github.com/mqwal/mqwal/walimpls/registry"
)

// Name is the backend name of this driver and the WALName of its IDs.
const Name = "pulsar"

// SeqProperty is the message property in which the driver stores its own
// per-channel sequence number. Scanners use it to drop repeats and to find
// gaps; it is removed from the properties a scanner delivers.
const SeqProperty = "_mqwal.pulsar.seq"

// TermProperty is the message property in which the driver stores the term
// of the WAL that wrote the message. A writer whose term is below one found
// at the end of the topic is fenced (ErrFenced). Scanners remove it.
const TermProperty = "_mqwal.pulsar.term"

// ClaimProperty marks the empty message a writer stores when its term first
// takes the channel, before Open returns: from then on the topic holds the
// term, so a lower term is fenced even if this writer appends nothing.
// Scanners skip it (it takes a position and a sequence number).
const ClaimProperty = "_mqwal.pulsar.claim"

var errInvalid = walimpls.ErrInvalidArgument

// seqBits is how many low bits of a producer sequence id hold the driver's
// sequence number; the writer's term is above them. Sequence ids are then
// never reused across terms and grow with the term, so a broker with
// deduplication refuses (as a duplicate, -1:-1) every send of a lower term
// after a higher term stored one: a zombie writer's resends included.
const seqBits = 44

// MaxTerm is the highest term a ReadWrite WAL can open with: the term lives
// in the bits of the producer sequence id (an int64) above seqBits.
const MaxTerm = 1<<(63-seqBits) - 1

// wireSeq is the producer sequence id of sequence number seq of term.
func wireSeq(term, seq int64) int64 { return term<<seqBits | seq }

func init() {
	registry.RegisterBuilder(NewBuilder())
}

// Builder builds Pulsar openers. The registered builder uses the defaults
// (DefaultURL, pulsar://127.0.0.1:6650); applications with other settings
// build their own, or load a config (package config).
type Builder struct{ opts []Option }

// NewBuilder returns a builder with opts.
func NewBuilder(opts ...Option) *Builder { return &Builder{opts: opts} }

// Name is "pulsar".
func (b *Builder) Name() string { return Name }

// Build validates the configuration and creates the client. It does no I/O:
// pulsar-client-go connects on first use.
func (b *Builder) Build() (walimpls.OpenerImpls, error) {
	cfg := resolve(b.opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	copts := pc.ClientOptions{
		URL:                        cfg.url,
		OperationTimeout:           cfg.operationTimeout,
		ConnectionTimeout:          cfg.connectionTimeout,
		TLSTrustCertsFilePath:      cfg.tlsCAFile,
		TLSAllowInsecureConnection: cfg.tlsInsecure,
		Logger:                     cfg.logger,
	}
	if cfg.token != "" {
		copts.Authentication = pc.NewAuthenticationToken(cfg.token)
	}
	c, err := pc.NewClient(copts)
	if err != nil {
		return nil, fmt.Errorf("%w: pulsar: client for %s: %w", errInvalid, cfg.url, err)
	}
	o := &opener{cfg: cfg, client: client{c}}
	if cfg.adminURL != "" {
		if o.admin, err = newAdminClient(&cfg); err != nil {
			c.Close()
			return nil, err
		}
	}
	return o, nil
}

type opener struct {
	cfg            config
	client         pc.Client
	admin          *adminClient // nil without WithAdminURL
	noAdminWarning sync.Once
	wals           helper.Lifetime
	watcherOnce    sync.Once
	watcher        atomic.Pointer[fenceWatcher] // see fence.go; started by the first ReadWrite WAL
	reached        atomic.Bool                  // an Open succeeded: the URL is right (see probe)
	parks          atomic.Int64                 // scanners parked so far (park.go)
}

func (o *opener) Capabilities() walimpls.Capabilities {
	return walimpls.Capabilities{Fencing: true, MaxMessageSize: o.cfg.maxSize()}
}

func (o *opener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if ch := opt.Channel; ch.AccessMode == walimpls.ReadWrite && ch.Term > MaxTerm {
		return nil, fmt.Errorf("%w: pulsar channel %q: term %d is above MaxTerm %d (the term is part of the producer sequence id)",
			walimpls.ErrInvalidArgument, ch.Name, ch.Term, MaxTerm)
	}
	if err := o.wals.Check("pulsar opener"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	topic := o.cfg.topic(opt.Channel.Name)
	if err := o.probe(ctx); err != nil {
		return nil, err
	}
	if err := o.checkTopic(ctx, opt.Channel, topic); err != nil {
		return nil, err
	}
	w := &wal{
		WALBase: helper.NewWALBase(Name, opt.Channel, o.cfg.maxSize()),
		o:       o,
		topic:   topic,
	}
	if opt.Channel.AccessMode == walimpls.ReadWrite {
		w.w = newWriter(o, w.topic, opt.Channel.Name, opt.Channel.Term)
	}
	remove, err := o.wals.Add("pulsar opener", w.Close)
	if err != nil {
		w.Close()
		return nil, err
	}
	w.removeFromOpener = remove
	if w.w != nil {
		if err := w.w.open(ctx); err != nil {
			w.Close()
			return nil, err
		}
	}
	o.reached.Store(true)
	return w, nil
}

func (o *opener) Close() {
	if o.wals.Close() {
		o.stopWatcher()
		o.client.Close()
		if o.admin != nil {
			o.admin.close()
		}
	}
}

// classify wraps a client error in the walimpls sentinel it stands for.
// The client reports broker errors as strings ("server error: ProducerBusy:
// ..."), so matching is by text where it has no sentinel.
func classify(op, topic string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case errors.Is(err, walimpls.ErrInvalidArgument):
		return err
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("pulsar: %s %s: %w", op, topic, err)
	case errors.Is(err, context.DeadlineExceeded):
		// The client's own operation timeout (a caller's ctx that ended is
		// reported by the caller): the broker did not answer in time.
		return fmt.Errorf("%w: pulsar: %s %s: the broker did not answer in time: %w", walimpls.ErrUnavailable, op, topic, err)
	case errors.Is(err, pc.ErrProducerFenced) || strings.Contains(msg, "ProducerFenced"):
		return fmt.Errorf("%w: pulsar: %s %s: %w", walimpls.ErrFenced, op, topic, err)
	case errors.Is(err, pc.ErrMessageTooLarge):
		return fmt.Errorf("%w: pulsar: %s %s: %w", walimpls.ErrMessageTooLarge, op, topic, err)
	}
	return fmt.Errorf("%w: pulsar: %s %s: %w", walimpls.ErrUnavailable, op, topic, err)
}

// errHeld marks a producer creation the broker refused because another
// producer holds the topic.
var errHeld = errors.New("another writer holds the channel")

// classifyCreate classifies a CreateProducer error. A real broker (Pulsar
// 2.8 to 4.x) answers an exclusive producer that meets another exclusive
// producer with ProducerFenced ("Topic has an existing exclusive producer"),
// not ProducerBusy, and a new producer sends no topic epoch, so at creation
// both mean "held by someone else": retryable, never this writer's fence.
func classifyCreate(topic string, err error) error {
	if msg := err.Error(); strings.Contains(msg, "ProducerBusy") || strings.Contains(msg, "ProducerFenced") {
		return fmt.Errorf("%w: pulsar: create producer for %s: %w: %w", walimpls.ErrUnavailable, topic, errHeld, err)
	}
	return classify("create producer for", topic, err)
}
