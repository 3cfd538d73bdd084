package adaptor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// walAdaptor is a wal.WAL over a driver WAL.
type walAdaptor struct {
	o       *opener
	impl    walimpls.WALImpls
	channel wal.Channel
	info    WALInfo // for hooks
	hooks   *hooks
	log     *slog.Logger
	ics     []interceptors.Interceptor
	chain   interceptors.AppendFunc
	reads   []interceptors.ReadInterceptor
	cache   *cache // nil: no write-ahead cache
	flow    *interceptors.FlowLimiter
	// switchHook, set by tests before the first Read, is told of every
	// switch of a scanner between the backend and the cache.
	switchHook func(scanner string, toCache bool)

	// abortCtx ends when Close gives up waiting for in-flight appends; each
	// append's ctx is cancelled with it.
	abortCtx context.Context
	abort    func()

	mu        sync.Mutex
	closed    bool
	announced bool // HookWALOpened was called, so HookWALClosed is due
	inflight  sync.WaitGroup
	scanners  map[*scanner]struct{}
	available chan struct{}
	availOnce sync.Once
	closeOnce sync.Once
}

var (
	_ wal.WAL            = (*walAdaptor)(nil)
	_ wal.LatestIDReader = (*walAdaptor)(nil)
	_ wal.StatReader     = (*walAdaptor)(nil)
)

func newWAL(o *opener, impl walimpls.WALImpls, log *slog.Logger, ics []interceptors.Interceptor) *walAdaptor {
	ch := impl.Channel()
	w := &walAdaptor{
		o:         o,
		impl:      impl,
		channel:   ch,
		info:      WALInfo{Backend: o.walName, Channel: ch},
		hooks:     &o.opts.hooks,
		log:       log,
		ics:       ics,
		flow:      interceptors.NewFlowLimiter(o.opts.maxInFlightBytes),
		scanners:  map[*scanner]struct{}{},
		available: make(chan struct{}),
	}
	abortCtx, abort := context.WithCancelCause(context.Background())
	w.abortCtx = abortCtx
	w.abort = func() {
		abort(fmt.Errorf("%w: %s closed while the append was in flight", wal.ErrClosed, w.describe()))
	}
	if ch.AccessMode == wal.ReadWrite && o.cacheBudget != nil {
		w.cache = newCache(o.cacheBudget)
	}
	// Build the chain inside out, so ics[0] runs first.
	chain := w.appendToDriver
	for i := len(ics) - 1; i >= 0; i-- {
		if ai, ok := ics[i].(interceptors.AppendInterceptor); ok {
			next := chain
			chain = func(ctx context.Context, msg message.MutableMessage) (*wal.AppendResult, error) {
				return ai.DoAppend(ctx, msg, next)
			}
		}
	}
	w.chain = chain
	// Read hooks run the other way round: messages come from the driver, so
	// the interceptor closest to it (Fence) judges them first.
	for i := len(ics) - 1; i >= 0; i-- {
		if ri, ok := ics[i].(interceptors.ReadInterceptor); ok {
			w.reads = append(w.reads, ri)
		}
	}
	return w
}

func (w *walAdaptor) WALName() string      { return w.o.walName }
func (w *walAdaptor) Channel() wal.Channel { return w.channel }

func (w *walAdaptor) describe() string {
	return fmt.Sprintf("%s channel %q", w.o.walName, w.channel.Name)
}

// announce tells the hooks that the WAL opened, unless it is closing
// already; under w.mu, so that Close tells them it closed only after.
func (w *walAdaptor) announce() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.announced = true
	for _, h := range w.hooks.walOpened {
		h.OnWALOpened(w.info)
	}
}

func (w *walAdaptor) runOpenHooks(ctx context.Context) error {
	for _, ic := range w.ics {
		if oi, ok := ic.(interceptors.OpenInterceptor); ok {
			if err := w.begin(); err != nil {
				return err
			}
			err := oi.OnOpen(ctx, w.appendWithAbort)
			w.inflight.Done()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// begin registers one operation that Close must wait for.
func (w *walAdaptor) begin() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("%w: %s", wal.ErrClosed, w.describe())
	}
	w.inflight.Add(1)
	return nil
}

// admit runs the checks every append makes before it holds any resource.
func (w *walAdaptor) admit(msg message.MutableMessage) error {
	if w.channel.AccessMode == wal.ReadOnly {
		return fmt.Errorf("%w: append on %s", wal.ErrReadOnly, w.describe())
	}
	if msg == nil {
		return fmt.Errorf("%w: append of a nil message", wal.ErrInvalidArgument)
	}
	return msg.Properties().ValidateUser()
}

func (w *walAdaptor) Append(ctx context.Context, msg message.MutableMessage) (*wal.AppendResult, error) {
	if err := w.begin(); err != nil {
		return nil, err
	}
	defer w.inflight.Done()
	var start time.Time
	if len(w.hooks.appended) > 0 {
		start = time.Now()
	}
	res, err := w.appendAdmitted(ctx, msg)
	if len(w.hooks.appended) > 0 {
		w.appended(msg, start, res, err)
	}
	return res, err
}

// appendAdmitted is Append once begin let it in.
func (w *walAdaptor) appendAdmitted(ctx context.Context, msg message.MutableMessage) (*wal.AppendResult, error) {
	if err := w.admit(msg); err != nil {
		return nil, err
	}
	n := int64(msg.EstimateSize())
	if err := w.flow.Acquire(ctx, n); err != nil {
		return nil, err
	}
	defer w.flow.Release(n)
	return w.appendWithAbort(ctx, msg)
}

// appended tells the append hooks.
func (w *walAdaptor) appended(msg message.MutableMessage, start time.Time, res *wal.AppendResult, err error) {
	e := AppendEvent{Duration: time.Since(start), Err: err}
	if msg != nil {
		e.Bytes = msg.EstimateSize()
	}
	if res != nil && err == nil {
		e.ID = res.MessageID
	}
	for _, h := range w.hooks.appended {
		h.OnAppended(w.info, e)
	}
}

func (w *walAdaptor) AppendAsync(ctx context.Context, msg message.MutableMessage, cb func(*wal.AppendResult, error)) {
	if cb == nil {
		cb = func(*wal.AppendResult, error) {}
	}
	if err := w.begin(); err != nil {
		cb(nil, err)
		return
	}
	var start time.Time
	if len(w.hooks.appended) > 0 {
		start = time.Now()
	}
	fail := func(err error) {
		if len(w.hooks.appended) > 0 {
			w.appended(msg, start, nil, err)
		}
		w.inflight.Done()
		cb(nil, err)
	}
	if err := w.admit(msg); err != nil {
		fail(err)
		return
	}
	n := int64(msg.EstimateSize())
	if err := w.flow.Acquire(ctx, n); err != nil {
		fail(err)
		return
	}
	go func() {
		res, err := w.appendWithAbort(ctx, msg)
		w.flow.Release(n)
		if len(w.hooks.appended) > 0 {
			w.appended(msg, start, res, err)
		}
		// The callback runs before the append counts as done, so once Close
		// returns every callback has run, unless one blocked past twice the
		// close timeout.
		defer w.inflight.Done()
		cb(res, err)
	}()
}

// appendWithAbort runs the chain with a ctx that Close can cancel once its
// wait for in-flight appends times out.
func (w *walAdaptor) appendWithAbort(ctx context.Context, msg message.MutableMessage) (*wal.AppendResult, error) {
	if ctx == context.Background() || ctx == context.TODO() {
		// Nothing to merge: the abort context alone (no per-append cost).
		ctx = w.abortCtx
	} else {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		stop := context.AfterFunc(w.abortCtx, func() { cancel(context.Cause(w.abortCtx)) })
		defer func() { stop(); cancel(nil) }()
	}
	res, err := w.chain(ctx, msg)
	if err != nil && ctx.Err() != nil {
		if cause := context.Cause(ctx); errors.Is(cause, wal.ErrClosed) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
	}
	if err != nil && errors.Is(err, wal.ErrFenced) {
		w.markUnavailable("fenced by a higher term")
	}
	return res, err
}

// appendToDriver is the end of the chain.
func (w *walAdaptor) appendToDriver(ctx context.Context, msg message.MutableMessage) (*wal.AppendResult, error) {
	var id message.MessageID
	var err error
	if w.cache != nil {
		id, err = w.cachedAppend(ctx, msg)
	} else {
		id, err = w.driverAppend(ctx, msg)
	}
	if err != nil {
		return nil, err
	}
	return &wal.AppendResult{MessageID: id, Term: w.channel.Term}, nil
}

// errAppendAborted is the outcome the cache records for a driver Append
// that panicked or ended its goroutine: it may have stored the message.
var errAppendAborted = fmt.Errorf("%w: the driver's Append panicked or ended its goroutine", wal.ErrOutcomeUnknown)

// cachedAppend appends through the driver holding a write-ahead cache slot,
// and completes the slot however the driver's Append ends: a slot left
// open would hold back every later entry for good.
func (w *walAdaptor) cachedAppend(ctx context.Context, msg message.MutableMessage) (id message.MessageID, err error) {
	t := w.cache.begin()
	err = errAppendAborted // unless driverAppend returns
	defer func() { w.cache.complete(t, msg, id, w.channel.Name, err) }()
	return w.driverAppend(ctx, msg)
}

// driverAppend is the driver's Append, with a missing ID (a driver bug that
// would otherwise put an entry without an ID in the cache) reported as an
// unknown outcome.
func (w *walAdaptor) driverAppend(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	id, err := w.impl.Append(ctx, msg)
	if err == nil && id == nil {
		return nil, fmt.Errorf("%w: %s: the driver's Append returned neither an ID nor an error", wal.ErrOutcomeUnknown, w.describe())
	}
	return id, err
}

func (w *walAdaptor) Truncate(ctx context.Context, id message.MessageID) error {
	if err := w.begin(); err != nil {
		return err
	}
	defer w.inflight.Done()
	var start time.Time
	if len(w.hooks.truncated) > 0 {
		start = time.Now()
	}
	err := w.impl.Truncate(ctx, id)
	if len(w.hooks.truncated) > 0 {
		e := TruncateEvent{Through: id, Duration: time.Since(start), Err: err}
		for _, h := range w.hooks.truncated {
			h.OnTruncated(w.info, e)
		}
	}
	if err != nil {
		return err
	}
	w.log.Info("truncated", slog.String("through", fmt.Sprint(id)))
	return nil
}

func (w *walAdaptor) Read(ctx context.Context, opt wal.ReadOption) (wal.Scanner, error) {
	if err := w.begin(); err != nil {
		return nil, err
	}
	defer w.inflight.Done()
	if err := opt.Validate(w.o.walName); err != nil {
		return nil, err
	}
	opt, err := w.resolveLatest(ctx, opt)
	if err != nil {
		return nil, err
	}
	inner, err := w.impl.Read(ctx, opt.Impls())
	if err != nil {
		return nil, err
	}
	claims, err := w.claims(ctx)
	if err != nil {
		_ = inner.Close()
		return nil, err
	}
	s := newScanner(w, opt, inner, claims)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		s.stop(fmt.Errorf("%w: %s", wal.ErrClosed, w.describe()))
		return nil, fmt.Errorf("%w: %s", wal.ErrClosed, w.describe())
	}
	w.scanners[s] = struct{}{}
	if w.cache != nil && len(w.scanners) == 1 {
		w.cache.activate()
	}
	// Under w.mu, so that a concurrent Close reports the scanner's end
	// after this.
	for _, h := range w.hooks.scannerOpened {
		h.OnScannerOpened(w.info, opt.Name)
	}
	w.mu.Unlock()
	s.start()
	return s, nil
}

// resolveLatest pins DeliverLatest to the channel's newest ID when the
// driver can tell it, so the scanner's reconnects (which reuse the policy
// until a first message arrives) never skip what was appended meanwhile.
func (w *walAdaptor) resolveLatest(ctx context.Context, opt wal.ReadOption) (wal.ReadOption, error) {
	if opt.DeliverPolicy.Kind() != walimpls.DeliverKindLatest {
		return opt, nil
	}
	id, err := w.latestID(ctx)
	switch {
	case errors.Is(err, wal.ErrUnsupported): // the driver cannot tell
		return opt, nil
	case err != nil:
		return opt, err
	case id == nil:
		opt.DeliverPolicy = walimpls.DeliverAll()
	default:
		opt.DeliverPolicy = walimpls.StartAfter(id)
	}
	return opt, nil
}

// LatestID implements wal.LatestIDReader through the driver's
// walimpls.LatestIDReader; without it, the error wraps ErrUnsupported.
func (w *walAdaptor) LatestID(ctx context.Context) (message.MessageID, error) {
	if err := w.begin(); err != nil {
		return nil, err
	}
	defer w.inflight.Done()
	return w.latestID(ctx)
}

func (w *walAdaptor) latestID(ctx context.Context) (message.MessageID, error) {
	r, ok := w.impl.(walimpls.LatestIDReader)
	if !ok {
		return nil, fmt.Errorf("%w: %s cannot tell its newest ID (the driver does not implement walimpls.LatestIDReader)", wal.ErrUnsupported, w.describe())
	}
	id, err := r.LatestID(ctx)
	if err != nil {
		return nil, fmt.Errorf("newest ID of %s: %w", w.describe(), err)
	}
	return id, nil
}

// Stat implements wal.StatReader through the driver's walimpls.StatReader;
// without it, the error wraps ErrUnsupported.
func (w *walAdaptor) Stat(ctx context.Context) (wal.ChannelStat, error) {
	if err := w.begin(); err != nil {
		return wal.ChannelStat{}, err
	}
	defer w.inflight.Done()
	r, ok := w.impl.(walimpls.StatReader)
	if !ok {
		return wal.ChannelStat{}, fmt.Errorf("%w: %s cannot describe its channel (the driver does not implement walimpls.StatReader)", wal.ErrUnsupported, w.describe())
	}
	st, err := r.Stat(ctx)
	if err != nil {
		return wal.ChannelStat{}, fmt.Errorf("stat %s: %w", w.describe(), err)
	}
	return st, nil
}

// claims lists the driver's claims for the read fence, if it keeps them.
// Read calls it after the driver scanner opened: a claim made later has its
// fence record at or after the scanner's start, so the scanner reads it.
func (w *walAdaptor) claims(ctx context.Context) ([]walimpls.Claim, error) {
	r, ok := w.impl.(walimpls.ClaimReader)
	if !ok {
		return nil, nil
	}
	claims, err := r.Claims(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: list claims: %w", w.describe(), err)
	}
	return claims, nil
}

// removeScanner untracks s and reports whether it was tracked (Read
// returned it).
func (w *walAdaptor) removeScanner(s *scanner) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.scanners[s]; !ok {
		return false
	}
	delete(w.scanners, s)
	if w.cache != nil && len(w.scanners) == 0 {
		w.cache.deactivate()
	}
	return true
}

func (w *walAdaptor) Available() <-chan struct{} { return w.available }

func (w *walAdaptor) IsAvailable() bool {
	select {
	case <-w.available:
		return false
	default:
		return true
	}
}

func (w *walAdaptor) markUnavailable(why string) {
	w.availOnce.Do(func() {
		close(w.available)
		w.log.Info("wal unavailable", slog.String("reason", why))
	})
}

// Close: stop new work, wait for in-flight appends up to the close timeout
// (then cancel them), end the scanners, close the driver, wait for the
// cancelled appends and their callbacks up to the close timeout again (then
// give up on them, with a warning), then close the interceptors.
func (w *walAdaptor) Close() { w.closeBy(time.Now().Add(w.o.opts.closeTimeout)) }

// closeBy is Close with the first wait ending at deadline (the second one
// close timeout later): an opener closing many WALs gives them one
// deadline, so their waits overlap however few goroutines close them.
func (w *walAdaptor) closeBy(deadline time.Time) {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		announced := w.announced
		w.mu.Unlock()
		w.markUnavailable("closed")
		drained := make(chan struct{})
		go func() { w.inflight.Wait(); close(drained) }()
		if !waitUntil(drained, deadline) {
			w.log.Warn("close: in-flight appends still running after the close timeout; cancelling them", slog.Duration("timeout", w.o.opts.closeTimeout))
			w.abort()
		}
		w.stopScanners()
		w.impl.Close()
		// The driver fails what it still holds once closed; an AppendAsync
		// callback may block for ever, though. Wait once more as long,
		// then give up on it so Close stays bounded.
		if !waitUntil(drained, deadline.Add(w.o.opts.closeTimeout)) {
			w.log.Warn("close: appends or their AppendAsync callbacks still running after twice the close timeout; closing without them",
				slog.Duration("timeout", w.o.opts.closeTimeout))
		}
		w.abort()
		for _, ic := range w.ics {
			ic.Close()
		}
		if w.cache != nil {
			w.cache.disable()
		}
		w.o.remove(w)
		w.log.Info("wal closed")
		if announced {
			for _, h := range w.hooks.walClosed {
				h.OnWALClosed(w.info)
			}
		}
	})
}

// waitUntil waits for done until deadline and reports whether it came.
func waitUntil(done <-chan struct{}, deadline time.Time) bool {
	select {
	case <-done:
		return true
	default:
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// closeNow closes a WAL that was never handed out.
func (w *walAdaptor) closeNow() { w.Close() }

func (w *walAdaptor) stopScanners() {
	w.mu.Lock()
	ss := make([]*scanner, 0, len(w.scanners))
	for s := range w.scanners {
		ss = append(ss, s)
	}
	w.mu.Unlock()
	cause := fmt.Errorf("%w: %s", wal.ErrClosed, w.describe())
	for _, s := range ss {
		s.stop(cause)
	}
}
