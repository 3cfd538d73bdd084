package helper

import (
	"fmt"
	"strconv"

	"github.com/mqwal/mqwal/message"
)

// Int64ID is a MessageID that is one non-negative integer per channel: an
// rmq sequence, a Kafka offset, a memory driver index.
type Int64ID struct {
	walName string
	value   int64
}

var _ message.MessageID = Int64ID{}

// NewInt64ID returns the ID value of backend walName.
func NewInt64ID(walName string, value int64) Int64ID { return Int64ID{walName: walName, value: value} }

// Value is the integer.
func (i Int64ID) Value() int64 { return i.value }

// WALName is the backend's name.
func (i Int64ID) WALName() string { return i.walName }

func (i Int64ID) other(o message.MessageID) (int64, bool) {
	id, ok := o.(Int64ID)
	if !ok || id.walName != i.walName {
		return 0, false
	}
	return id.value, true
}

// LT reports i < o; false for an ID of another backend.
func (i Int64ID) LT(o message.MessageID) bool { v, ok := i.other(o); return ok && i.value < v }

// LTE reports i <= o; false for an ID of another backend.
func (i Int64ID) LTE(o message.MessageID) bool { v, ok := i.other(o); return ok && i.value <= v }

// EQ reports i == o; false for an ID of another backend.
func (i Int64ID) EQ(o message.MessageID) bool { v, ok := i.other(o); return ok && i.value == v }

// Marshal is the decimal value.
func (i Int64ID) Marshal() string { return strconv.FormatInt(i.value, 10) }

// String is the decimal value.
func (i Int64ID) String() string { return i.Marshal() }

// ParseInt64ID parses the Marshal form of an Int64ID of walName: canonical
// decimal, non-negative, no sign or leading zeros, so that every ID has
// exactly one text form.
func ParseInt64ID(walName, s string) (Int64ID, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || strconv.FormatInt(v, 10) != s {
		return Int64ID{}, fmt.Errorf("%w: %s MessageID %q is not a non-negative decimal integer", message.ErrInvalidArgument, walName, s)
	}
	return NewInt64ID(walName, v), nil
}

// RegisterInt64ID registers the unmarshaler of walName's Int64IDs with
// message.RegisterMessageIDUnmarshaler. Call it from the driver's init.
func RegisterInt64ID(walName string) {
	message.RegisterMessageIDUnmarshaler(walName, func(s string) (message.MessageID, error) {
		return ParseInt64ID(walName, s)
	})
}
