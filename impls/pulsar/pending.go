package pulsar

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// pending is one append from fill to its result. Appends reuse them (with
// their property map, result channel and callback): they were a third of
// the driver's allocations per append.
type pending struct {
	w        *writer // whose it is, from getPending to recycle
	seq      int64   // the driver's sequence number (SeqProperty)
	wire     int64   // the producer sequence id: term and seq (wireSeq)
	msg      pc.ProducerMessage
	done     chan result
	callback func(pc.MessageID, *pc.ProducerMessage, error)
	// submitting is true while SendAsync runs; a callback during it is the
	// client refusing the message before sending (rejected), so its
	// sequence number is given back.
	submitting atomic.Bool
	rejected   atomic.Bool
	claim      bool // the claim of acquire: holds no in-flight slot
}

// fill prepares msg for sending: its properties plus the writer's term
// (the sequence number is added at submission). It checks the reserved
// properties and the size on the wire in the same pass.
func (w *writer) fill(msg message.MutableMessage) (*pending, error) {
	p := w.getPending()
	wire := len(msg.Payload()) + 128 + len(SeqProperty) + len(TermProperty) + 48
	for k, v := range msg.Properties() {
		wire += len(k) + len(v) + 8 // protobuf framing
		switch {
		case strings.HasPrefix(k, driverPropertyPrefix):
			w.recycle(p)
			// It would forge the driver's own bookkeeping (or pass another
			// client's reserved property off as this one's); the adaptor's
			// reserved properties use other keys and pass through.
			return nil, fmt.Errorf("%w: property %q: the prefix %q is reserved for the pulsar driver", walimpls.ErrInvalidArgument, k, driverPropertyPrefix)
		case isFieldProperty(k):
			if err := setField(&p.msg, k, v); err != nil {
				w.recycle(p)
				return nil, err
			}
		default:
			p.msg.Properties[k] = v
		}
	}
	if wire > w.o.cfg.maxMessageSize {
		w.recycle(p)
		return nil, fmt.Errorf("%w: pulsar channel %q: message of %d bytes on the wire (payload, properties and metadata), broker limit %d",
			walimpls.ErrMessageTooLarge, w.channel, wire, w.o.cfg.maxMessageSize)
	}
	p.msg.Properties[TermProperty] = w.termText
	p.msg.Payload = msg.Payload()
	return p, nil
}

// pendings are shared by every writer of the process: a pool per writer
// kept a pending (and the pool's per-P arrays) for each idle channel.
var pendings sync.Pool // of *pending

func (w *writer) getPending() *pending {
	p, ok := pendings.Get().(*pending)
	if !ok {
		p = &pending{done: make(chan result, 1)}
		p.msg.Properties = make(map[string]string, 4)
		p.callback = func(id pc.MessageID, _ *pc.ProducerMessage, err error) { p.w.receipt(receipt{p: p, id: id, err: err}) }
	}
	p.w = w
	return p
}

// recycle takes back a pending whose result was received or that never
// reached the client. pulsar-client-go v0.19.0 does not touch a message
// after its callback (it resets the send request), so the map is free.
func (w *writer) recycle(p *pending) {
	clear(p.msg.Properties)
	p.msg = pc.ProducerMessage{Properties: p.msg.Properties}
	p.rejected.Store(false)
	p.claim = false
	p.w = nil
	pendings.Put(p)
}
