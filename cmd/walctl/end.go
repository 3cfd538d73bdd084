package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// errReachedEnd ends a read-only scanner once it has delivered the end ID
// set for its channel. It is not retryable, so the adaptor's scanner ends
// with it after delivering everything before it.
var errReachedEnd = errors.New("reached the newest message that existed when reading started")

// reachedEnd reports whether a scanner ended at its end ID.
func reachedEnd(err error) bool { return errors.Is(err, errReachedEnd) }

// endOpener wraps a driver's opener so that read-only scanners can end at
// an ID: "print everything and stop". The wal API has no "newest ID"
// (walimpls.LatestIDReader stays inside the adaptor, which uses it only to
// pin DeliverLatest), so walctl asks the driver for it and stops the
// driver's scanner right after it. The adaptor's scanner reads through this
// wrapper, so records it hides (fence records) still count: a scan ends
// even when the newest record is one no reader is shown.
//
// An end can be set before or after a scanner starts (verify sets it when
// its writers stop); a scanner already past it ends at once.
type endOpener struct {
	walimpls.OpenerImpls

	mu      sync.Mutex
	ends    map[string]message.MessageID
	changed chan struct{} // closed and replaced whenever an end is set
}

func newEndOpener(impl walimpls.OpenerImpls) *endOpener {
	return &endOpener{OpenerImpls: impl, ends: map[string]message.MessageID{}, changed: make(chan struct{})}
}

// setEnd makes read-only scanners of channel end after delivering id.
func (o *endOpener) setEnd(channel string, id message.MessageID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ends[channel] = id
	close(o.changed)
	o.changed = make(chan struct{})
}

func (o *endOpener) end(channel string) (message.MessageID, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ends[channel], o.changed
}

func (o *endOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	w, err := o.OpenerImpls.Open(ctx, opt)
	if err != nil || opt.Channel.AccessMode != walimpls.ReadOnly {
		return w, err
	}
	ew := &endWAL{WALImpls: w, o: o}
	// The adaptor looks for these optional interfaces on the WAL it gets.
	latest, hasLatest := w.(walimpls.LatestIDReader)
	claims, hasClaims := w.(walimpls.ClaimReader)
	switch {
	case hasLatest && hasClaims:
		return struct {
			*endWAL
			walimpls.LatestIDReader
			walimpls.ClaimReader
		}{ew, latest, claims}, nil
	case hasLatest:
		return struct {
			*endWAL
			walimpls.LatestIDReader
		}{ew, latest}, nil
	case hasClaims:
		return struct {
			*endWAL
			walimpls.ClaimReader
		}{ew, claims}, nil
	}
	return ew, nil
}

type endWAL struct {
	walimpls.WALImpls
	o *endOpener
}

func (w *endWAL) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	inner, err := w.WALImpls.Read(ctx, opt)
	if err != nil {
		return nil, err
	}
	ch := w.Channel().Name
	return helper.NewScanner(opt.Name, opt.BufferSize(), func(ctx context.Context, emit helper.Emit) error {
		defer inner.Close()
		var last message.MessageID
		for {
			end, changed := w.o.end(ch)
			if end != nil && last != nil && end.LTE(last) {
				return errReachedEnd
			}
			select {
			case m, ok := <-inner.Chan():
				if !ok {
					return inner.Error()
				}
				if err := emit(m); err != nil {
					return err
				}
				last = m.MessageID()
			case <-changed:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}), nil
}

// latestID asks the driver for channel's newest ID, through a read-only WAL
// of impl. ok is false when the driver cannot tell.
func latestID(ctx context.Context, impl walimpls.OpenerImpls, channel string) (id message.MessageID, ok bool, err error) {
	w, err := impl.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: channel, AccessMode: walimpls.ReadOnly}})
	if err != nil {
		return nil, false, fmt.Errorf("open channel %q: %w", channel, err)
	}
	defer w.Close()
	r, ok := w.(walimpls.LatestIDReader)
	if !ok {
		return nil, false, nil
	}
	id, err = r.LatestID(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("newest id of channel %q: %w", channel, err)
	}
	return id, true, nil
}
