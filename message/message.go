package message

import (
	"fmt"
	"maps"
	"sort"
	"strings"
)

// ReservedPropertyPrefix starts every property key that mqwal itself writes
// (term stamps, fence records, sequence numbers). Applications may read such
// keys but never set them.
const ReservedPropertyPrefix = "_mqwal."

// Properties are a message's string key/value pairs. A Properties value
// returned by a message must be treated as read-only.
type Properties map[string]string

// Get returns the value of key and whether it is set.
func (p Properties) Get(key string) (string, bool) {
	v, ok := p[key]
	return v, ok
}

// Clone returns an independent copy (nil stays nil).
func (p Properties) Clone() Properties { return maps.Clone(p) }

// Keys returns the keys in sorted order, for deterministic encoding.
func (p Properties) Keys() []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Size is the number of bytes of all keys and values.
func (p Properties) Size() int {
	n := 0
	for k, v := range p {
		n += len(k) + len(v)
	}
	return n
}

// ValidateUser checks that p holds no reserved key, so an application cannot
// forge a term or a fence record.
func (p Properties) ValidateUser() error {
	for k := range p {
		if strings.HasPrefix(k, ReservedPropertyPrefix) {
			return fmt.Errorf("%w: property key %q uses the reserved prefix %q",
				ErrInvalidArgument, k, ReservedPropertyPrefix)
		}
	}
	return nil
}

// MutableMessage is a message on its way into a WAL: payload and properties,
// no ID yet. Methods never modify the receiver; WithProperty returns a copy,
// so a message may be shared between goroutines and retried safely.
type MutableMessage interface {
	Payload() []byte
	Properties() Properties
	// EstimateSize is payload plus property bytes: what size limits count.
	EstimateSize() int
	// WithProperty returns a copy of the message with key set to value.
	WithProperty(key, value string) MutableMessage
	// IntoImmutable attaches the ID the backend assigned and the channel.
	IntoImmutable(id MessageID, channel string) ImmutableMessage
}

// ImmutableMessage is a message as stored: it has an ID and a channel.
type ImmutableMessage interface {
	MessageID() MessageID
	Channel() string
	Payload() []byte
	Properties() Properties
	EstimateSize() int
}

// NewMutableMessage returns a message with the given payload and properties.
// It takes ownership of both: do not modify them afterwards.
func NewMutableMessage(payload []byte, props Properties) MutableMessage {
	return &mutable{payload: payload, props: props}
}

// NewImmutableMessage returns a stored message. Backends use it when they
// decode what they read. It takes ownership of payload and props.
func NewImmutableMessage(id MessageID, channel string, payload []byte, props Properties) ImmutableMessage {
	return &immutable{mutable: mutable{payload: payload, props: props}, id: id, channel: channel}
}

type mutable struct {
	payload []byte
	props   Properties
}

func (m *mutable) Payload() []byte        { return m.payload }
func (m *mutable) Properties() Properties { return m.props }
func (m *mutable) EstimateSize() int      { return len(m.payload) + m.props.Size() }

func (m *mutable) WithProperty(key, value string) MutableMessage {
	props := make(Properties, len(m.props)+1)
	maps.Copy(props, m.props)
	props[key] = value
	return &mutable{payload: m.payload, props: props}
}

func (m *mutable) IntoImmutable(id MessageID, channel string) ImmutableMessage {
	return &immutable{mutable: *m, id: id, channel: channel}
}

type immutable struct {
	mutable
	id      MessageID
	channel string
}

func (m *immutable) MessageID() MessageID { return m.id }
func (m *immutable) Channel() string      { return m.channel }
func (m *immutable) String() string {
	return fmt.Sprintf("%s@%s(%d bytes, %d properties)", m.channel, m.id, len(m.payload), len(m.props))
}
