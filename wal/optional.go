package wal

import (
	"context"
	"errors"
	"fmt"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// What a backend can tell beyond reading messages comes as small optional
// interfaces, as in walimpls, so WAL and Opener stay small. The adaptor's
// WALs and openers implement all of them and delegate to the driver; when
// the driver cannot answer (it does not implement the walimpls interface),
// the call fails with an error wrapping ErrUnsupported. The functions
// LatestID, Stat and ListChannels ask any WAL or Opener and return that
// error for one that implements nothing, so callers check one thing.

// ErrUnsupported: the backend cannot do what was asked. It is
// errors.ErrUnsupported.
var ErrUnsupported = errors.ErrUnsupported

// LatestIDReader is implemented by a WAL that can tell the ID of the newest
// record of its channel.
type LatestIDReader interface {
	// LatestID returns the ID of the newest record ever stored in the
	// channel (durable, or truncated since), or nil if the channel has never
	// been written. That record may be one no scanner delivers (a fence
	// record, a driver's own record): StartAfter(id) delivers exactly what
	// is stored after it, so "read up to what exists now" ends at the first
	// message whose ID is at or after it. It honours ctx.
	LatestID(ctx context.Context) (message.MessageID, error)
}

// ChannelStat is what a backend tells about one channel without reading
// its messages (walimpls.ChannelStat: First and Last count the backend's
// records, fence records included; counts it cannot tell are Unknown).
type ChannelStat = walimpls.ChannelStat

// WriterState says whether a ReadWrite WAL holds a channel now.
type WriterState = walimpls.WriterState

// Writer states and the Unknown count of a ChannelStat.
const (
	WriterUnknown = walimpls.WriterUnknown
	WriterHeld    = walimpls.WriterHeld
	WriterNone    = walimpls.WriterNone
	Unknown       = walimpls.Unknown
)

// StatReader is implemented by a WAL that can describe its channel from
// the backend's metadata (offsets, indexes, counters), without reading its
// messages, so it stays cheap on a long channel.
type StatReader interface {
	// Stat describes the channel. It honours ctx.
	Stat(ctx context.Context) (ChannelStat, error)
}

// ChannelLister is implemented by an Opener that can list the channels its
// backend holds: every channel opened for writing through the backend's
// configuration (an rmq data directory, the Kafka topics with the
// configured prefix, the Pulsar topics of the namespace with the prefix).
type ChannelLister interface {
	// ListChannels returns the channels' names, sorted. It honours ctx.
	ListChannels(ctx context.Context) ([]string, error)
}

// LatestID asks w for its channel's newest record's ID (LatestIDReader);
// the error wraps ErrUnsupported when w or its backend cannot tell.
func LatestID(ctx context.Context, w WAL) (message.MessageID, error) {
	if w == nil {
		return nil, fmt.Errorf("%w: LatestID of a nil WAL", ErrInvalidArgument)
	}
	r, ok := w.(LatestIDReader)
	if !ok {
		return nil, unsupported(w, "tell the newest ID")
	}
	return r.LatestID(ctx)
}

// Stat asks w to describe its channel (StatReader); the error wraps
// ErrUnsupported when w or its backend cannot.
func Stat(ctx context.Context, w WAL) (ChannelStat, error) {
	if w == nil {
		return ChannelStat{}, fmt.Errorf("%w: Stat of a nil WAL", ErrInvalidArgument)
	}
	r, ok := w.(StatReader)
	if !ok {
		return ChannelStat{}, unsupported(w, "describe its channel")
	}
	return r.Stat(ctx)
}

// ListChannels asks o for its backend's channels (ChannelLister); the
// error wraps ErrUnsupported when o or its backend cannot list them.
func ListChannels(ctx context.Context, o Opener) ([]string, error) {
	if o == nil {
		return nil, fmt.Errorf("%w: ListChannels of a nil Opener", ErrInvalidArgument)
	}
	l, ok := o.(ChannelLister)
	if !ok {
		return nil, fmt.Errorf("%w: %T cannot list its channels", ErrUnsupported, o)
	}
	return l.ListChannels(ctx)
}

func unsupported(w WAL, what string) error {
	return fmt.Errorf("%w: %s channel %q (%T) cannot %s", ErrUnsupported, w.WALName(), w.Channel().Name, w, what)
}
