package interceptors

import (
	"context"
	"strconv"

	"go.uber.org/zap"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
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
// record when a WAL opens ReadWrite, and makes scanners drop a message whose
// term is lower than a term they have already seen (in a fence record or a
// message), so a zombie writer's late appends are never delivered, whatever
// the backend. The adaptor always installs it; it is exported so its
// behaviour can be tested and documented on its own.
//
// Guarantee: a scanner that reads the channel from before the fence record
// of term T never delivers a message of a lower term stored after that
// record. A scanner that starts after the fence record (StartAfter an ID
// past it) learns of term T from the first term-T message it reads, so a
// lower-term message between its start and that message is delivered.
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
	log     *zap.Logger
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
		f.log.Warn("write fence record failed", zap.Int64("term", f.term), zap.Error(err))
		return err
	}
	f.log.Info("fence record written", zap.Int64("term", f.term), zap.Stringer("id", res.MessageID))
	return nil
}

func (f *fence) NewReadHook(wal.ReadOption) ReadHook { return &fenceHook{maxTerm: -1} }

// fenceHook is one scanner's fencing state: the highest term seen so far.
type fenceHook struct{ maxTerm int64 }

func (h *fenceHook) Deliver(msg message.ImmutableMessage) bool {
	props := msg.Properties()
	if v, ok := props[PropertyFence]; ok {
		if t, err := strconv.ParseInt(v, 10, 64); err == nil && t > h.maxTerm {
			h.maxTerm = t
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
	if t < h.maxTerm {
		return false
	}
	// A term-t message is written after term t's fence record, so it fences
	// lower terms just as well (this matters to scanners that start past
	// the fence record).
	h.maxTerm = t
	return true
}

// IsFenceRecord reports whether msg is a fence record.
func IsFenceRecord(msg message.ImmutableMessage) bool {
	_, ok := msg.Properties()[PropertyFence]
	return ok
}
