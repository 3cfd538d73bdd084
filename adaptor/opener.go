package adaptor

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// OpenerBuilder adapts a driver's builder: Build makes the driver's opener
// and wraps it. It is immutable and safe for concurrent use.
type OpenerBuilder struct {
	impl walimpls.OpenerBuilderImpls
	opts []Option
}

// NewOpenerBuilder adapts impl, a driver builder obtained from the walimpls
// registry or constructed with driver options (as config does). opts apply
// to every opener it builds.
func NewOpenerBuilder(impl walimpls.OpenerBuilderImpls, opts ...Option) *OpenerBuilder {
	return &OpenerBuilder{impl: impl, opts: opts}
}

// Name is the backend name, "" for a nil driver builder.
func (b *OpenerBuilder) Name() string {
	if b == nil || b.impl == nil {
		return ""
	}
	return b.impl.Name()
}

// With returns a builder with opts added after b's.
func (b *OpenerBuilder) With(opts ...Option) *OpenerBuilder {
	return &OpenerBuilder{impl: b.impl, opts: append(append([]Option(nil), b.opts...), opts...)}
}

// Build creates the driver's client and returns it as a wal.Opener. opts
// come after the builder's own.
func (b *OpenerBuilder) Build(opts ...Option) (wal.Opener, error) {
	if b == nil || b.impl == nil {
		return nil, fmt.Errorf("%w: OpenerBuilder has no driver builder", wal.ErrInvalidArgument)
	}
	impl, err := b.impl.Build()
	if err != nil {
		return nil, fmt.Errorf("build %s opener: %w", b.impl.Name(), err)
	}
	return NewOpener(b.impl.Name(), impl, append(append([]Option(nil), b.opts...), opts...)...), nil
}

// NewOpener adapts an opener already built by driver walName. The returned
// opener owns impl: closing it closes impl.
func NewOpener(walName string, impl walimpls.OpenerImpls, opts ...Option) wal.Opener {
	o := newOptions(opts)
	op := &opener{
		walName: walName,
		impl:    impl,
		opts:    o,
		log:     withAttrs(o.logger, slog.String("backend", walName)),
		wals:    map[*walAdaptor]struct{}{},
	}
	if size := cacheSize(o.cacheBytes, impl.Capabilities()); size > 0 {
		op.cacheBudget = newCacheBudget(int64(size))
	} else if o.cacheBytes > 0 {
		op.log.Info("write-ahead cache off: other clients can write to the backend's channels (the driver declares no ExclusiveLog)")
	}
	return op
}

// cacheSize is the write-ahead cache budget for a driver with caps, given
// WithWriteAheadCache's value (-1: not given). The cache feeds a WAL's
// scanners only its own appends, so it is never used on a log others can
// write to, whatever was asked: a record stored between two cached
// appends would be skipped. By default it is on where the channel also
// has only one writer at a time (Fencing).
func cacheSize(asked int, caps walimpls.Capabilities) int {
	switch {
	case !caps.ExclusiveLog:
		return 0
	case asked >= 0:
		return asked
	case caps.Fencing:
		return DefaultWriteAheadCache
	}
	return 0
}

type opener struct {
	walName string
	impl    walimpls.OpenerImpls
	opts    options
	log     *slog.Logger
	// cacheBudget bounds the write-ahead caches of all the opener's WALs;
	// nil: no cache.
	cacheBudget *cacheBudget

	mu     sync.Mutex
	closed bool
	wals   map[*walAdaptor]struct{}
	once   sync.Once
}

// Capabilities are the driver's, with MaxMessageSize net of the bytes the
// adaptor reserves for its own properties (interceptors.ReservedOverhead),
// so an application message of exactly that size is accepted.
func (o *opener) Capabilities() wal.Capabilities {
	caps := o.impl.Capabilities()
	if caps.MaxMessageSize > 0 {
		caps.MaxMessageSize = max(caps.MaxMessageSize-interceptors.ReservedOverhead, 1)
	}
	return caps
}

// Open names the WAL and the channel in every error it returns, so a caller
// that opens many channels need not wrap them again.
func (o *opener) Open(ctx context.Context, opt *wal.OpenOption) (wal.WAL, error) {
	w, err := o.open(ctx, opt)
	if err != nil {
		name := ""
		if opt != nil {
			name = opt.Channel.Name
		}
		return nil, fmt.Errorf("open %s channel %q: %w", o.walName, name, err)
	}
	return w, nil
}

func (o *opener) open(ctx context.Context, opt *wal.OpenOption) (*walAdaptor, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	impl, err := o.impl.Open(ctx, opt)
	if err != nil {
		o.log.Warn("open failed", slog.String("channel", opt.Channel.Name), slog.Int64("term", opt.Channel.Term), slog.Any("error", err))
		return nil, err
	}
	log := withAttrs(o.log, slog.String("channel", opt.Channel.Name), slog.Int64("term", opt.Channel.Term))
	w := newWAL(o, impl, log, o.buildInterceptors(opt.Channel, log))
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		w.closeNow()
		return nil, fmt.Errorf("%w: %s opener", wal.ErrClosed, o.walName)
	}
	o.wals[w] = struct{}{}
	o.mu.Unlock()
	if opt.Channel.AccessMode == wal.ReadWrite {
		if err := w.runOpenHooks(ctx); err != nil {
			w.Close()
			return nil, err
		}
	}
	w.announce()
	w.log.Info("wal opened", slog.String("mode", opt.Channel.AccessMode.String()), slog.Bool("cache", w.cache != nil))
	return w, nil
}

// buildInterceptors returns the chain, outermost first: logging, the
// application's, then the built-in size limit (on the application's message)
// and fence (stamps the term), closest to the driver.
func (o *opener) buildInterceptors(ch wal.Channel, log *slog.Logger) []interceptors.Interceptor {
	p := interceptors.Param{
		WALName:      o.walName,
		Channel:      ch,
		Capabilities: o.Capabilities(),
		Logger:       log,
	}
	builders := make([]interceptors.Builder, 0, len(o.opts.interceptors)+3)
	if o.opts.logger.Enabled(context.Background(), slog.LevelWarn) {
		builders = append(builders, interceptors.Logging{})
	}
	builders = append(builders, o.opts.interceptors...)
	builders = append(builders, interceptors.SizeLimit{Max: o.opts.maxMessageSize}, interceptors.Fence{})
	ics := make([]interceptors.Interceptor, 0, len(builders))
	for _, b := range builders {
		if ic := b.Build(p); ic != nil {
			ics = append(ics, ic)
		}
	}
	return ics
}

var _ wal.ChannelLister = (*opener)(nil)

// ListChannels implements wal.ChannelLister through the driver's
// walimpls.ChannelLister; without it, the error wraps ErrUnsupported.
func (o *opener) ListChannels(ctx context.Context) ([]string, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	l, ok := o.impl.(walimpls.ChannelLister)
	if !ok {
		return nil, fmt.Errorf("%w: %s cannot list its channels (the driver does not implement walimpls.ChannelLister)", wal.ErrUnsupported, o.walName)
	}
	chs, err := l.ListChannels(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s channels: %w", o.walName, err)
	}
	return chs, nil
}

func (o *opener) checkOpen() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return fmt.Errorf("%w: %s opener", wal.ErrClosed, o.walName)
	}
	return nil
}

func (o *opener) remove(w *walAdaptor) {
	o.mu.Lock()
	delete(o.wals, w)
	o.mu.Unlock()
}

// closeWorkers bounds the goroutines an opener's Close uses to close its
// WALs: one per WAL would be tens of thousands with many channels (more
// than the race detector allows), and the WALs share one deadline, so a
// few goroutines overlap their close timeouts as well.
const closeWorkers = 32

// Close closes the WALs, a few at a time with one deadline for all, so
// their close timeouts overlap, then the driver's opener.
func (o *opener) Close() {
	o.once.Do(func() {
		o.mu.Lock()
		o.closed = true
		wals := make([]*walAdaptor, 0, len(o.wals))
		for w := range o.wals {
			wals = append(wals, w)
		}
		o.mu.Unlock()
		deadline := time.Now().Add(o.opts.closeTimeout)
		next := make(chan *walAdaptor)
		var wg sync.WaitGroup
		for range min(closeWorkers, len(wals)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for w := range next {
					w.closeBy(deadline)
				}
			}()
		}
		for _, w := range wals {
			next <- w
		}
		close(next)
		wg.Wait()
		o.impl.Close()
		o.log.Info("opener closed", slog.Int("wals", len(wals)))
	})
}
