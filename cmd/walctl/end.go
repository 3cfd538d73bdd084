package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
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
// an ID: "print everything and stop". walctl asks for the newest ID through
// the wal API (wal.LatestID) and stops the driver's scanner right after
// it: the wal API has no scanner that ends by itself. The adaptor's scanner reads through this
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

// ListChannels passes the driver's walimpls.ChannelLister through to the
// adaptor (wal.ListChannels), or says it has none.
func (o *endOpener) ListChannels(ctx context.Context) ([]string, error) {
	l, ok := o.OpenerImpls.(walimpls.ChannelLister)
	if !ok {
		return nil, fmt.Errorf("%w: the driver does not implement walimpls.ChannelLister", wal.ErrUnsupported)
	}
	return l.ListChannels(ctx)
}

// Stat passes the driver's walimpls.StatReader through to the adaptor
// (wal.Stat), or says it has none.
func (w *endWAL) Stat(ctx context.Context) (walimpls.ChannelStat, error) {
	r, ok := w.WALImpls.(walimpls.StatReader)
	if !ok {
		return walimpls.ChannelStat{}, fmt.Errorf("%w: the driver does not implement walimpls.StatReader", wal.ErrUnsupported)
	}
	return r.Stat(ctx)
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

// latestID asks the backend for channel's newest ID (wal.LatestID),
// through a read-only WAL of o. ok is false when the backend cannot tell.
func latestID(ctx context.Context, o wal.Opener, channel string) (id message.MessageID, ok bool, err error) {
	w, err := o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: channel, AccessMode: wal.ReadOnly}})
	if err != nil {
		return nil, false, err
	}
	defer w.Close()
	id, err = wal.LatestID(ctx, w)
	switch {
	case errors.Is(err, wal.ErrUnsupported):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return id, true, nil
}
