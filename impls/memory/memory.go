package memory

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
	"github.com/mqwal/mqwal/walimpls/registry"
)

// Name is the backend name of this driver.
const Name = "memory"

// DefaultMaxMessageSize is the message size limit unless WithMaxMessageSize
// changes it.
const DefaultMaxMessageSize = 4 << 20

var processStore = NewStore()

func init() {
	helper.RegisterInt64ID(Name)
	registry.RegisterBuilder(NewBuilder())
}

// Option configures a Builder.
type Option interface{ apply(*Builder) }

type optionFunc func(*Builder)

func (f optionFunc) apply(b *Builder) { f(b) }

// WithStore makes the builder's openers use s instead of the process store.
func WithStore(s *Store) Option { return optionFunc(func(b *Builder) { b.store = s }) }

// WithMaxMessageSize sets the largest message accepted; n <= 0 means no limit.
func WithMaxMessageSize(n int) Option {
	return optionFunc(func(b *Builder) { b.maxSize = max(n, 0) })
}

// Builder builds memory openers.
type Builder struct {
	store   *Store
	maxSize int
}

// NewBuilder returns a builder over the process store unless WithStore says
// otherwise.
func NewBuilder(opts ...Option) *Builder {
	b := &Builder{store: processStore, maxSize: DefaultMaxMessageSize}
	for _, o := range opts {
		o.apply(b)
	}
	return b
}

// Name is "memory".
func (b *Builder) Name() string { return Name }

// Build returns an opener over the builder's store. It cannot fail.
func (b *Builder) Build() (walimpls.OpenerImpls, error) {
	return &opener{store: b.store, caps: walimpls.Capabilities{PhysicalTruncate: true, ExclusiveLog: true, MaxMessageSize: b.maxSize}}, nil
}

type opener struct {
	store *Store
	caps  walimpls.Capabilities
	wals  helper.Lifetime
}

func (o *opener) Capabilities() walimpls.Capabilities { return o.caps }

func (o *opener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if err := o.wals.Check("memory opener"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rw := opt.Channel.AccessMode == walimpls.ReadWrite
	log, ok := o.store.channel(opt.Channel.Name, rw)
	if !ok {
		return nil, fmt.Errorf("%w: memory: channel %q was never opened for writing in this store (a ReadOnly open never creates one)", walimpls.ErrNotFound, opt.Channel.Name)
	}
	w := &wal{WALBase: helper.NewWALBase(Name, opt.Channel, o.caps.MaxMessageSize), log: log}
	remove, err := o.wals.Add("memory opener", func() { w.Close() })
	if err != nil {
		return nil, err
	}
	w.removeFromOpener = remove
	if rw {
		log.openWriter(opt.Channel.Term)
	}
	return w, nil
}

func (o *opener) Close() { o.wals.Close() }

type wal struct {
	*helper.WALBase
	log              *channelLog
	removeFromOpener func()
	// claimed is set once this WAL's term has a claim (see Claims).
	claimed atomic.Bool
}

func (w *wal) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	if err := w.CheckAppend(ctx, msg); err != nil {
		return nil, err
	}
	claim := int64(noClaim)
	if !w.claimed.Load() {
		claim = w.Channel().Term
	}
	offset := w.log.append(msg.Payload(), msg.Properties(), claim)
	if claim != noClaim {
		w.claimed.Store(true)
	}
	return helper.NewInt64ID(Name, offset), nil
}

func (w *wal) Truncate(ctx context.Context, id message.MessageID) error {
	if err := w.CheckTruncate(ctx, id); err != nil {
		return err
	}
	offset := id.(helper.Int64ID).Value()
	if offset >= w.log.end() {
		return fmt.Errorf("%w: truncate to %v, beyond the last appended message of channel %q", walimpls.ErrInvalidArgument, id, w.Channel().Name)
	}
	w.log.truncate(offset)
	return nil
}

func (w *wal) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	if err := w.CheckRead(ctx, opt); err != nil {
		return nil, err
	}
	start, err := w.startOffset(opt.DeliverPolicy)
	if err != nil {
		return nil, err
	}
	return w.StartScanner(opt, func(ctx context.Context, emit helper.Emit) error {
		return w.scan(ctx, start, emit)
	})
}

// startOffset resolves a policy against the log as it is now; Latest is
// fixed here, so it means "after the scanner opened", not "after it started
// running".
func (w *wal) startOffset(p walimpls.DeliverPolicy) (int64, error) {
	var start int64
	switch p.Kind() {
	case walimpls.DeliverKindAll:
		return firstRetained, nil
	case walimpls.DeliverKindLatest:
		return w.log.end(), nil
	case walimpls.DeliverKindStartFrom:
		start = p.ID().(helper.Int64ID).Value()
	case walimpls.DeliverKindStartAfter:
		start = p.ID().(helper.Int64ID).Value() + 1
	}
	if _, _, first, _ := w.log.next(start); start < first {
		return 0, fmt.Errorf("%w: %v on channel %q: messages before offset %d are truncated",
			walimpls.ErrOutOfRange, p, w.Channel().Name, first)
	}
	return start, nil
}

// firstRetained stands for DeliverAll's start, resolved when the scan begins.
const firstRetained = -1

func (w *wal) scan(ctx context.Context, offset int64, emit helper.Emit) error {
	if offset == firstRetained {
		_, _, offset, _ = w.log.next(0)
	}
	for {
		rec, ok, first, changed := w.log.next(offset)
		switch {
		case ok:
			msg := message.NewImmutableMessage(helper.NewInt64ID(Name, offset), w.Channel().Name,
				append([]byte(nil), rec.payload...), rec.props.Clone())
			if err := emit(msg); err != nil {
				return err
			}
			offset++
		case offset < first:
			// Truncated while this scanner was behind: never skip silently.
			return fmt.Errorf("%w: channel %q truncated past offset %d while scanning", walimpls.ErrOutOfRange, w.Channel().Name, offset)
		default:
			select {
			case <-changed:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

func (w *wal) Close() {
	if w.WALBase.Close() {
		if w.Channel().AccessMode == walimpls.ReadWrite {
			w.log.closeWriter(w.Channel().Term)
		}
		w.removeFromOpener()
	}
}

// Claims implements walimpls.ClaimReader. Memory does not fence: a WAL of
// a lower term keeps storing after a higher term opened. A term's claim is
// made by its first stored message (through the adaptor, its fence
// record), in the same step, with After the message before it; so no
// message lands between a claim and the fence record that announces it,
// and a scanner that reads the fence record drops exactly what a scanner
// that knows the claim drops. Claims whose After is at or below the
// retained range are merged into the one with the highest term on
// Truncate.
func (w *wal) Claims(ctx context.Context) ([]walimpls.Claim, error) {
	if err := w.CheckRead(ctx, walimpls.ReadOption{}); err != nil {
		return nil, err
	}
	return w.log.claimList(), nil
}

// LatestID implements walimpls.LatestIDReader.
func (w *wal) LatestID(ctx context.Context) (message.MessageID, error) {
	if err := w.CheckRead(ctx, walimpls.ReadOption{}); err != nil {
		return nil, err
	}
	end := w.log.end()
	if end == 0 {
		return nil, nil
	}
	return helper.NewInt64ID(Name, end-1), nil
}

// Stat implements walimpls.StatReader from the Store's own bookkeeping:
//
//   - First, Last and Messages: the retained offsets (memory stores no
//     records of its own beyond the adaptor's fence records, which count).
//   - Bytes: the retained records' payload plus property keys and values,
//     what the Store holds for them (not Go's allocation overhead).
//   - Term: the highest term that opened the channel ReadWrite in this
//     Store; Writer: WriterHeld while a ReadWrite WAL of that term is open
//     on any opener of the Store (the Store sees every client, so it knows).
//   - BackendName: "" (a memory channel has no other name).
func (w *wal) Stat(ctx context.Context) (walimpls.ChannelStat, error) {
	if err := w.CheckRead(ctx, walimpls.ReadOption{}); err != nil {
		return walimpls.ChannelStat{}, err
	}
	st := w.log.stat()
	st.Channel = w.Channel().Name
	return st, nil
}

// ListChannels implements walimpls.ChannelLister: the Store's channels (a
// channel exists once opened ReadWrite), in name order. With the
// registered builder that is every channel of the process.
func (o *opener) ListChannels(ctx context.Context) ([]string, error) {
	if err := o.wals.Check("memory opener"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return o.store.names(), nil
}
