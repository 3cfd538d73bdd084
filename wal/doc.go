// Package wal is the write-ahead log interface applications use: an Opener
// opens one WAL per channel, a WAL appends and truncates, and a Scanner reads
// a channel in ID order.
//
// The implementation behind these interfaces is package adaptor, which turns
// any walimpls driver into a WAL with lifetime management, interceptors
// (term stamping and read-side fencing, size limit, flow control), hooks
// for metrics, slog logging, resilient scanners and a write-ahead cache. Most programs get an
// Opener in one line from wal/registry:
//
//	opener, err := registry.MustGetBuilder("rmq").Build()
//	w, err := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "orders", Term: 1}})
//	res, err := w.Append(ctx, message.NewMutableMessage(payload, nil))
//	s, err := w.Read(ctx, wal.ReadOption{DeliverPolicy: wal.DeliverAll()})
//	for msg := range s.Chan() { ... }
//
// The types that mean the same thing in the driver contract (Channel,
// AccessMode, DeliverPolicy, Capabilities, the sentinel errors) are aliases
// of the walimpls ones, so an application imports only wal and message.
//
// What a backend can tell beyond messages comes through small optional
// interfaces, as in walimpls: LatestIDReader (the newest record's ID) and
// StatReader (a channel's retained range, counts, term and writer) on a
// WAL, ChannelLister on an Opener. The adaptor's WALs and openers
// implement them all, answering from the driver, and fail with an error
// wrapping ErrUnsupported where the driver cannot; the functions LatestID,
// Stat and ListChannels ask any WAL or Opener that way.
//
// Lifetimes nest as in walimpls: closing an Opener closes its WALs, closing a
// WAL ends its scanners. After Close every call returns an error wrapping
// ErrClosed.
package wal
