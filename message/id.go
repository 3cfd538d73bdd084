package message

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// MessageID identifies one message within one channel of one backend.
//
// IDs of a channel are totally ordered in append order. Comparing IDs of
// different backends (different WALName) is a programming error; the
// comparison methods then report false.
type MessageID interface {
	// WALName is the backend that made this ID ("memory", "rmq", "kafka", ...).
	WALName() string
	// LT reports whether this ID comes strictly before other.
	LT(other MessageID) bool
	// LTE reports whether this ID comes before or is other.
	LTE(other MessageID) bool
	// EQ reports whether this ID is other.
	EQ(other MessageID) bool
	// Marshal is a stable text form; UnmarshalMessageID(WALName(), Marshal())
	// returns an ID EQ to this one, in this and every later mqwal version.
	Marshal() string
	// String is for humans and logs; it may differ from Marshal.
	String() string
}

// IDUnmarshaler turns the output of MessageID.Marshal back into an ID. It
// must not panic on any input and must wrap ErrInvalidArgument on failure.
type IDUnmarshaler func(s string) (MessageID, error)

var idUnmarshalers = struct {
	sync.RWMutex
	m map[string]IDUnmarshaler
}{m: map[string]IDUnmarshaler{}}

// RegisterMessageIDUnmarshaler makes UnmarshalMessageID understand the IDs of
// walName. Backends call it from init. Registering a name twice is a
// programming error and panics, like http.Handle.
func RegisterMessageIDUnmarshaler(walName string, u IDUnmarshaler) {
	if walName == "" || u == nil {
		panic("message: RegisterMessageIDUnmarshaler with empty name or nil unmarshaler")
	}
	idUnmarshalers.Lock()
	defer idUnmarshalers.Unlock()
	if _, dup := idUnmarshalers.m[walName]; dup {
		panic(fmt.Sprintf("message: MessageID unmarshaler for %q registered twice", walName))
	}
	idUnmarshalers.m[walName] = u
}

// UnmarshalMessageID parses s, the Marshal form of an ID of backend walName.
// Unknown backends and malformed text give an error wrapping
// ErrInvalidArgument.
func UnmarshalMessageID(walName, s string) (MessageID, error) {
	idUnmarshalers.RLock()
	u, ok := idUnmarshalers.m[walName]
	idUnmarshalers.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: no MessageID unmarshaler for backend %q (known: %s)",
			ErrInvalidArgument, walName, strings.Join(registeredIDNames(), ", "))
	}
	id, err := u(s)
	if err != nil {
		return nil, err
	}
	if id == nil {
		return nil, fmt.Errorf("%w: %s MessageID %q unmarshaled to nil", ErrInvalidArgument, walName, s)
	}
	return id, nil
}

func registeredIDNames() []string {
	idUnmarshalers.RLock()
	defer idUnmarshalers.RUnlock()
	names := make([]string, 0, len(idUnmarshalers.m))
	for n := range idUnmarshalers.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
