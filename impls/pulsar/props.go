package pulsar

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// Properties that carry a Pulsar message's own fields (see doc.go, "Sharing
// topics"). They are ordinary property names, not reserved ones, so an
// application sets them through the adaptor too (which refuses "_mqwal.").
const (
	// KeyProperty carries the message key (the partition key other clients
	// see, used by Key_Shared subscriptions and compaction). Append writes
	// its value as the key; scanners deliver the key of every message that
	// has one under it. An empty key is no key in Pulsar: Append refuses
	// an empty value.
	KeyProperty = "pulsar.key"
	// OrderingKeyProperty carries the ordering key (Key_Shared routing
	// ahead of the key), the same way.
	OrderingKeyProperty = "pulsar.ordering_key"
	// EventTimeProperty carries the event time as decimal milliseconds
	// since the Unix epoch, from 1 up to maxEventTimeMillis (the client
	// writes it through time.UnixNano); 0 is "no event time" in Pulsar.
	EventTimeProperty = "pulsar.event_time"
	// ForeignPropertyPrefix is put before a stored property name that must
	// not reach an application as is: a reserved name ("_mqwal.") on a
	// message the driver did not write, and one of the three names above on
	// any message (the field, not a property, is what they carry).
	ForeignPropertyPrefix = message.ReservedPropertyPrefix + "pulsar.foreign."
	// driverPropertyPrefix is the driver's own; Append refuses it.
	driverPropertyPrefix = message.ReservedPropertyPrefix + "pulsar."
)

// maxEventTimeMillis is the last millisecond time.UnixNano can represent
// (the client converts the event time through it).
const maxEventTimeMillis = math.MaxInt64 / int64(time.Millisecond)

// isFieldProperty reports whether k is one of the properties that carry a
// message field.
func isFieldProperty(k string) bool {
	return k == KeyProperty || k == OrderingKeyProperty || k == EventTimeProperty
}

// setField puts the value of a field property into msg, or reports why it
// cannot be stored.
func setField(msg *pc.ProducerMessage, k, v string) error {
	if v == "" {
		return fmt.Errorf("%w: property %q is empty: Pulsar stores no empty %s (leave the property out)", walimpls.ErrInvalidArgument, k, strings.TrimPrefix(k, "pulsar."))
	}
	switch k {
	case KeyProperty:
		msg.Key = v
	case OrderingKeyProperty:
		msg.OrderingKey = v
	case EventTimeProperty:
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms <= 0 || ms > maxEventTimeMillis {
			return fmt.Errorf("%w: property %q = %q: want milliseconds since the Unix epoch, 1 to %d", walimpls.ErrInvalidArgument, k, v, maxEventTimeMillis)
		}
		msg.EventTime = time.UnixMilli(ms)
	}
	return nil
}

// stamp is the driver's bookkeeping on a message one of its writers
// stored.
type stamp struct {
	seq, term int64
	claim     bool
}

// stampOf returns the stamp of m when a writer of this driver stored it:
// the producer name is the driver's (a name the broker lets only one
// producer of the topic hold at a time) and both bookkeeping properties
// parse. Any other message is another client's, whatever properties it
// carries: it never moves a term, a sequence number or a claim.
func stampOf(m pc.Message) (stamp, bool) {
	if m.ProducerName() != producerName {
		return stamp{}, false
	}
	props := m.Properties()
	seq, ok := parseCount(props[SeqProperty])
	if !ok {
		return stamp{}, false
	}
	term, ok := parseCount(props[TermProperty])
	if !ok {
		return stamp{}, false
	}
	_, claim := props[ClaimProperty]
	return stamp{seq: seq, term: term, claim: claim}, true
}

func parseCount(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}

// deliveredProperties are the properties a scanner delivers for m: what it
// stores, less the driver's bookkeeping on its own messages, with the
// message key, ordering key and event time as KeyProperty,
// OrderingKeyProperty and EventTimeProperty. A stored name that would be
// mistaken for one of those, or a reserved one on another client's message,
// is delivered under ForeignPropertyPrefix: only the driver's writers put
// "_mqwal." properties on a channel (the adaptor's term and fence records
// among them).
func deliveredProperties(m pc.Message, own bool) message.Properties {
	src := m.Properties()
	props := make(message.Properties, len(src)+3)
	for k, v := range src {
		switch {
		case own && (k == SeqProperty || k == TermProperty):
			continue
		case isFieldProperty(k) || (!own && strings.HasPrefix(k, message.ReservedPropertyPrefix)):
			k = ForeignPropertyPrefix + k
		}
		props[k] = v
	}
	if k := m.Key(); k != "" {
		props[KeyProperty] = k
	}
	if k := m.OrderingKey(); k != "" {
		props[OrderingKeyProperty] = k
	}
	// The client reports a message without an event time as the epoch.
	if ms := m.EventTime().UnixMilli(); ms > 0 {
		props[EventTimeProperty] = strconv.FormatInt(ms, 10)
	}
	return props
}
