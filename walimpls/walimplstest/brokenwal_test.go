package walimplstest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// backend is what every opener of one self-test run shares, as a broker is
// shared by its clients: the memory store, the fault's state, and the
// wrapper's own fencing and claims (the memory driver has neither).
type backend struct {
	b       breakage
	release chan struct{}

	mu          sync.Mutex
	store       *memory.Store
	kicked      chan struct{} // closed by the fault; running scanners end
	failNext    int           // appends the fault fails as not stored
	unknownNext int           // appends the fault stores but reports unknown
	channels    map[string]*channelState
}

// channelState is the wrapper's fence and claims of one channel. mu is held
// across a fence check and the store, and across a claim and the newest ID
// it records, so neither races with an append.
type channelState struct {
	mu     sync.Mutex
	high   int64
	terms  map[int64]bool
	claims []walimpls.Claim
	stats  statState // for Stat (statwal_test.go)
}

func newBackend(b breakage, release chan struct{}) *backend {
	return &backend{b: b, release: release, store: memory.NewStore(), kicked: make(chan struct{}), channels: map[string]*channelState{}}
}

func (be *backend) newOpener() (walimpls.OpenerImpls, error) {
	maxSize := 4096
	if be.b == acceptsOversize {
		maxSize = 0 // the store takes anything; Capabilities still say 4096
	}
	be.mu.Lock()
	store := be.store
	be.mu.Unlock()
	inner, err := memory.NewBuilder(memory.WithStore(store), memory.WithMaxMessageSize(maxSize)).Build()
	if err != nil {
		return nil, err
	}
	return &brokenOpener{OpenerImpls: inner, be: be, others: map[string]walimpls.WALImpls{}}, nil
}

func (be *backend) injectFault(context.Context) error {
	be.mu.Lock()
	defer be.mu.Unlock()
	close(be.kicked)
	be.kicked = make(chan struct{})
	be.failNext, be.unknownNext = 2, 1
	return nil
}

// faultOutcome takes the next outcome the fault forces on an append.
func (be *backend) faultOutcome() (fail, unknown bool) {
	be.mu.Lock()
	defer be.mu.Unlock()
	switch {
	case be.failNext > 0:
		be.failNext--
		return true, false
	case be.unknownNext > 0:
		be.unknownNext--
		return false, true
	}
	return false, false
}

func (be *backend) kickChan() <-chan struct{} {
	be.mu.Lock()
	defer be.mu.Unlock()
	return be.kicked
}

func (be *backend) channel(name string) *channelState {
	be.mu.Lock()
	defer be.mu.Unlock()
	c, ok := be.channels[name]
	if !ok {
		c = &channelState{high: -1, terms: map[int64]bool{}}
		be.channels[name] = c
	}
	return c
}

// bareOpener is another client of the backend: a memory opener of its
// store, without the wrapper (foreign records for the ForeignRecords case).
func (be *backend) bareOpener() (walimpls.OpenerImpls, error) {
	be.mu.Lock()
	store := be.store
	be.mu.Unlock()
	return memory.NewBuilder(memory.WithStore(store)).Build()
}

func (be *backend) fences() bool { return be.b == intactFencing || be.b == fencedButStored }

type brokenOpener struct {
	walimpls.OpenerImpls
	be      *backend
	appends atomic.Int64

	mu     sync.Mutex
	opened []string                     // channels opened ReadWrite, in order
	others map[string]walimpls.WALImpls // inner writers wrongChannel misroutes to
}

func (o *brokenOpener) Capabilities() walimpls.Capabilities {
	c := o.OpenerImpls.Capabilities()
	c.MaxMessageSize = 4096
	// The self-test's backend takes foreign records (foreignAppend).
	c.ExclusiveLog = o.be.b == claimsExclusive
	switch o.be.b {
	case intactFencing, fencingBypass, fencedButStored:
		c.Fencing = true
	}
	return c
}

func (o *brokenOpener) Close() {
	o.OpenerImpls.Close()
	if o.be.b == losesOnRestart {
		o.be.mu.Lock()
		o.be.store = memory.NewStore()
		o.be.mu.Unlock()
	}
}

func (o *brokenOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	if opt == nil || opt.Validate() != nil {
		return o.OpenerImpls.Open(ctx, opt)
	}
	reported := opt.Channel
	if o.be.b == readOnlyAppends && reported.AccessMode == walimpls.ReadOnly {
		opt = &walimpls.OpenOption{Channel: reported}
		opt.Channel.AccessMode = walimpls.ReadWrite
	}
	st := o.be.channel(reported.Name)
	st.mu.Lock()
	defer st.mu.Unlock()
	writer := reported.AccessMode == walimpls.ReadWrite
	if writer && o.be.fences() && reported.Term < st.high {
		return nil, fmt.Errorf("%w: channel %s is owned by term %d, open with term %d", walimpls.ErrFenced, reported.Name, st.high, reported.Term)
	}
	w, err := o.OpenerImpls.Open(ctx, opt)
	if err != nil {
		return nil, err
	}
	if writer {
		st.high = max(st.high, reported.Term)
		o.mu.Lock()
		o.opened = append(o.opened, reported.Name)
		o.mu.Unlock()
		st.stats.opened(reported.Term)
	}
	return &brokenWAL{WALImpls: w, o: o, st: st, channel: reported}, nil
}

// other returns an inner writer of a channel opened on o other than name, or nil.
func (o *brokenOpener) other(ctx context.Context, name string) walimpls.WALImpls {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ch := range o.opened {
		if ch == name {
			continue
		}
		if w, ok := o.others[ch]; ok {
			return w
		}
		w, err := o.OpenerImpls.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch}})
		if err != nil {
			return nil
		}
		o.others[ch] = w
		return w
	}
	return nil
}

type brokenWAL struct {
	walimpls.WALImpls
	o         *brokenOpener
	st        *channelState
	channel   walimpls.Channel
	stored    bool // this WAL has stored a message (guarded by st.mu)
	closeOnce sync.Once
}

func (w *brokenWAL) Channel() walimpls.Channel { return w.channel }

// Claims implements walimpls.ClaimReader from the wrapper's own records.
func (w *brokenWAL) Claims(ctx context.Context) ([]walimpls.Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.st.mu.Lock()
	defer w.st.mu.Unlock()
	return append([]walimpls.Claim(nil), w.st.claims...), nil
}

func (w *brokenWAL) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	be := w.o.be
	if w.channel.AccessMode == walimpls.ReadWrite {
		if fail, unknown := be.faultOutcome(); fail {
			return nil, fmt.Errorf("%w: self-test fault, nothing stored", walimpls.ErrUnavailable)
		} else if unknown {
			id, err := w.WALImpls.Append(ctx, msg)
			if err == nil {
				w.st.mu.Lock()
				w.st.stats.stored(id, msg)
				w.st.mu.Unlock()
				err = fmt.Errorf("%w: self-test fault, stored as %v", walimpls.ErrOutcomeUnknown, id)
			}
			return nil, err
		}
	}
	w.st.mu.Lock()
	defer w.st.mu.Unlock()
	if w.channel.AccessMode == walimpls.ReadWrite && w.channel.Term < w.st.high {
		switch be.b {
		case intactFencing:
			return nil, fmt.Errorf("%w: term %d < %d", walimpls.ErrFenced, w.channel.Term, w.st.high)
		case fencedButStored:
			if id, err := w.WALImpls.Append(ctx, msg); err == nil {
				w.st.stats.stored(id, msg)
			}
			return nil, fmt.Errorf("%w: term %d < %d", walimpls.ErrFenced, w.channel.Term, w.st.high)
		}
	}
	// A term claims the channel with its first stored message (the broken
	// driver claims with every WAL's first), After the newest one before.
	claim := w.channel.AccessMode == walimpls.ReadWrite && !w.stored && (!w.st.terms[w.channel.Term] || be.b == misreportsClaims)
	var after message.MessageID
	if claim {
		var err error
		if after, err = w.WALImpls.(walimpls.LatestIDReader).LatestID(ctx); err != nil {
			return nil, err
		}
	}
	id, err := w.WALImpls.Append(ctx, msg)
	if err != nil {
		return nil, err
	}
	w.stored = true
	if claim {
		w.st.terms[w.channel.Term] = true
		w.st.claims = append(w.st.claims, walimpls.Claim{Term: w.channel.Term, After: after})
	}
	w.st.stats.stored(id, msg)
	switch n := w.o.appends.Add(1); {
	case be.b == storesRetryable && n%7 == 0:
		return nil, fmt.Errorf("%w: pretending the broker refused", walimpls.ErrUnavailable)
	case be.b == phantom && n%5 == 3:
		if _, err := w.WALImpls.Append(ctx, message.NewMutableMessage([]byte("phantom"), nil)); err != nil {
			return nil, err
		}
	case be.b == wrongChannel && n%3 == 2:
		if other := w.o.other(ctx, w.channel.Name); other != nil {
			if _, err := other.Append(ctx, msg); err != nil {
				return nil, err
			}
		}
	}
	return id, nil
}

func (w *brokenWAL) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	b := w.o.be.b
	if b == ignoresStartAfter && opt.DeliverPolicy.Kind() == walimpls.DeliverKindStartAfter {
		opt.DeliverPolicy = walimpls.StartFrom(opt.DeliverPolicy.ID())
	}
	var latest message.MessageID
	if b == endsAtBacklog {
		var err error
		if latest, err = w.WALImpls.(walimpls.LatestIDReader).LatestID(ctx); err != nil {
			return nil, err
		}
	}
	s, err := w.WALImpls.Read(ctx, opt)
	if b == skipsTruncated && errors.Is(err, walimpls.ErrOutOfRange) {
		opt.DeliverPolicy = walimpls.DeliverAll()
		s, err = w.WALImpls.Read(ctx, opt)
	}
	if err != nil {
		return nil, err
	}
	if b == leaksScanner {
		return newLeakyScanner(s, w.o.be.release), nil
	}
	kicked := w.o.be.kickChan()
	return helper.NewScanner(opt.Name, opt.BufferSize(), func(ctx context.Context, emit helper.Emit) error {
		defer s.Close()
		if b == endsAtBacklog && (latest == nil || opt.DeliverPolicy.Kind() == walimpls.DeliverKindLatest || !opt.DeliverPolicy.Includes(latest)) {
			return nil // nothing stored to read: "done" at once
		}
		return forward(ctx, s, emit, b, latest, kicked)
	}), nil
}

// forward passes inner's messages on, breaking the stream at its second and
// third message the way b says, ending after latest for endsAtBacklog, and
// failing retryably when the fault kicks. A kick takes effect once the
// scanner delivered something, so the reader resumes after a message, not
// from its start, whenever the fault strikes.
func forward(ctx context.Context, inner walimpls.ScannerImpls, emit helper.Emit, b breakage, latest message.MessageID, kicked <-chan struct{}) error {
	var held message.ImmutableMessage
	var kick <-chan struct{}
	for i := 0; ; i++ {
		var m message.ImmutableMessage
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-kick:
			return fmt.Errorf("%w: self-test fault ended the scanner", walimpls.ErrUnavailable)
		case msg, ok := <-inner.Chan():
			if !ok {
				return inner.Error()
			}
			m = msg
		}
		out := []message.ImmutableMessage{m}
		switch {
		case b == dropsMessage && i == 2:
			out = nil
		case b == duplicatesMessage && i == 1:
			out = append(out, m)
		case b == reorders && i == 1:
			held, out = m, nil
		case b == reorders && i == 2:
			out = append(out, held)
		}
		for _, m := range out {
			if err := emit(m); err != nil {
				return err
			}
		}
		if b == endsAtBacklog && latest.LTE(m.MessageID()) {
			return nil
		}
		if len(out) > 0 {
			kick = kicked
		}
	}
}

// leakyScanner forwards messages but never ends: Close returns at once and
// leaves its goroutine running until the test releases it.
type leakyScanner struct {
	walimpls.ScannerImpls
	ch   chan message.ImmutableMessage
	done chan struct{}
}

func newLeakyScanner(inner walimpls.ScannerImpls, release chan struct{}) *leakyScanner {
	s := &leakyScanner{ScannerImpls: inner, ch: make(chan message.ImmutableMessage), done: make(chan struct{})}
	go func() {
		for m := range inner.Chan() {
			select {
			case s.ch <- m:
			case <-release:
				return
			}
		}
		<-release
	}()
	return s
}

func (s *leakyScanner) Chan() <-chan message.ImmutableMessage { return s.ch }
func (s *leakyScanner) Done() <-chan struct{}                 { return s.done }
func (s *leakyScanner) Error() error                          { return nil }
func (s *leakyScanner) Close() error                          { return nil }
