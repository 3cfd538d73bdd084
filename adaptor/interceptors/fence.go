package interceptors

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// Reserved properties the Fence interceptor writes.
const (
	// PropertyTerm is on every message the adaptor appends: the writer's
	// term in decimal.
	PropertyTerm = message.ReservedPropertyPrefix + "term"
	// PropertyFence marks a fence record, written once when a WAL opens
	// ReadWrite; its value is the new term. Scanners never deliver fence
	// records to applications.
	PropertyFence = message.ReservedPropertyPrefix + "fence"
)

// Fence stamps every appended message with the WAL's term, writes a fence
// record when a WAL opens ReadWrite, and makes scanners drop a zombie
// writer's late appends, whatever the backend. The adaptor always installs
// it; it is exported so its behaviour can be tested and documented on its
// own.
//
// A scanner drops a message iff its term is lower than the floor at its
// position, the highest of:
//   - the term of every fence record the scanner read before it, and
//   - the term of every claim (walimpls.Claim) whose After is below the
//     message's ID (or nil). Claims come from the driver when the scanner
//     opens (walimpls.ClaimReader), and from the WAL itself: a ReadWrite WAL
//     claims its term after its own fence record.
//
// Nothing else moves the floor: a message whose term is above it is
// delivered and leaves it where it is, so a message another client stored
// with a high _mqwal.term cannot hide the writer's later appends. A message
// without a term (not written through the adaptor) or with one that does
// not parse is delivered.
//
// Guarantee: on a driver that fences strictly (no lower term's append is
// stored after a higher term's open) or that lists its claims, every
// scanner delivers the same messages from wherever it starts. Otherwise a
// scanner that starts past a fence record and has not read it learns of
// that term only if its own WAL wrote the record.
//
// A zombie still gets acknowledgements for such appends from a backend that
// cannot fence (memory); only the readers ignore them.
type Fence struct{}

// Build returns the interceptor of one WAL.
func (Fence) Build(p Param) Interceptor {
	return &fence{term: p.Channel.Term, termStr: strconv.FormatInt(p.Channel.Term, 10), log: p.Logger}
}

type fence struct {
	Nop
	term    int64
	termStr string
	log     *slog.Logger
	own     atomic.Pointer[walimpls.Claim] // set once the fence record is stored
}

func (f *fence) DoAppend(ctx context.Context, msg message.MutableMessage, next AppendFunc) (*wal.AppendResult, error) {
	res, err := next(ctx, msg.WithProperty(PropertyTerm, f.termStr))
	if res != nil {
		res.Term = f.term
	}
	return res, err
}

func (f *fence) OnOpen(ctx context.Context, appendFn AppendFunc) error {
	res, err := appendFn(ctx, message.NewMutableMessage(nil, message.Properties{PropertyFence: f.termStr}))
	if err != nil {
		f.log.Warn("write fence record failed", slog.Int64("term", f.term), slog.Any("error", err))
		return err
	}
	f.own.Store(&walimpls.Claim{Term: f.term, After: res.MessageID})
	f.log.Info("fence record written", slog.Int64("term", f.term), slog.String("id", res.MessageID.String()))
	return nil
}

func (f *fence) NewReadHook(wal.ReadOption) ReadHook {
	h := &fenceHook{floor: math.MinInt64}
	if own := f.own.Load(); own != nil {
		h.claims = []walimpls.Claim{*own}
	}
	return h
}

// ClaimSeeder is implemented by the read hooks of Fence. The adaptor calls
// SeedClaims once, before the hook's first Deliver, with the claims the
// driver listed when the scanner opened (walimpls.ClaimReader), so a
// scanner that starts past a fence record still drops what a scanner that
// read the record drops.
type ClaimSeeder interface {
	SeedClaims(claims []walimpls.Claim)
}

// fenceHook is one scanner's fencing state.
type fenceHook struct {
	// claims in After order (nil first); those before next are passed.
	claims []walimpls.Claim
	next   int
	// floor is the highest term of a passed claim or a fence record read.
	floor int64
}

// SeedClaims adds claims to the hook's own. It sorts here, not in Deliver.
func (h *fenceHook) SeedClaims(claims []walimpls.Claim) {
	h.claims = append(h.claims, claims...)
	slices.SortStableFunc(h.claims, func(a, b walimpls.Claim) int {
		switch {
		case a.After == nil && b.After == nil:
			return 0
		case a.After == nil:
			return -1
		case b.After == nil:
			return 1
		case a.After.LT(b.After):
			return -1
		case b.After.LT(a.After):
			return 1
		}
		return 0
	})
}

func (h *fenceHook) Deliver(msg message.ImmutableMessage) bool {
	if id := msg.MessageID(); id != nil {
		for h.next < len(h.claims) {
			c := h.claims[h.next]
			if c.After != nil && !c.After.LT(id) {
				break
			}
			h.floor = max(h.floor, c.Term)
			h.next++
		}
	}
	props := msg.Properties()
	if v, ok := props[PropertyFence]; ok {
		if t, err := strconv.ParseInt(v, 10, 64); err == nil {
			h.floor = max(h.floor, t)
		}
		return false
	}
	v, ok := props[PropertyTerm]
	if !ok {
		return true // not written through the adaptor: nothing to judge
	}
	t, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return true
	}
	// A term above the floor without a fence record is delivered but does
	// not raise it: only fence records and claims do, so a foreign message
	// with a high term cannot hide anything.
	return t >= h.floor
}

// IsFenceRecord reports whether msg is a fence record.
func IsFenceRecord(msg message.ImmutableMessage) bool {
	_, ok := msg.Properties()[PropertyFence]
	return ok
}
