package walimpls

import (
	"fmt"

	"github.com/mqwal/mqwal/message"
)

// DeliverKind is where a scanner starts.
type DeliverKind int

const (
	// DeliverKindAll starts at the oldest retained message.
	DeliverKindAll DeliverKind = iota
	// DeliverKindLatest delivers only messages appended after the scanner opened.
	DeliverKindLatest
	// DeliverKindStartFrom starts at an ID, inclusive.
	DeliverKindStartFrom
	// DeliverKindStartAfter starts after an ID, exclusive.
	DeliverKindStartAfter
)

func (k DeliverKind) String() string {
	switch k {
	case DeliverKindAll:
		return "All"
	case DeliverKindLatest:
		return "Latest"
	case DeliverKindStartFrom:
		return "StartFrom"
	case DeliverKindStartAfter:
		return "StartAfter"
	}
	return fmt.Sprintf("DeliverKind(%d)", int(k))
}

// DeliverPolicy is a scanner's start position. The zero value is DeliverAll.
type DeliverPolicy struct {
	kind DeliverKind
	id   message.MessageID
}

// DeliverAll starts at the oldest retained message.
func DeliverAll() DeliverPolicy { return DeliverPolicy{kind: DeliverKindAll} }

// DeliverLatest delivers only messages appended after the scanner opened.
func DeliverLatest() DeliverPolicy { return DeliverPolicy{kind: DeliverKindLatest} }

// StartFrom starts at id, inclusive.
func StartFrom(id message.MessageID) DeliverPolicy {
	return DeliverPolicy{kind: DeliverKindStartFrom, id: id}
}

// StartAfter starts right after id.
func StartAfter(id message.MessageID) DeliverPolicy {
	return DeliverPolicy{kind: DeliverKindStartAfter, id: id}
}

// Kind is the policy's kind.
func (p DeliverPolicy) Kind() DeliverKind { return p.kind }

// ID is the start ID of StartFrom and StartAfter, nil otherwise.
func (p DeliverPolicy) ID() message.MessageID { return p.id }

func (p DeliverPolicy) String() string {
	if p.id == nil {
		return p.kind.String()
	}
	return fmt.Sprintf("%v(%s)", p.kind, p.id)
}

// Validate checks that an ID-based policy carries an ID of walName.
func (p DeliverPolicy) Validate(walName string) error {
	switch p.kind {
	case DeliverKindAll, DeliverKindLatest:
		return nil
	case DeliverKindStartFrom, DeliverKindStartAfter:
		if p.id == nil {
			return fmt.Errorf("%w: DeliverPolicy %v has no MessageID", ErrInvalidArgument, p.kind)
		}
		if p.id.WALName() != walName {
			return fmt.Errorf("%w: DeliverPolicy %v has a %s MessageID, this WAL is %s", ErrInvalidArgument, p.kind, p.id.WALName(), walName)
		}
		return nil
	}
	return fmt.Errorf("%w: DeliverPolicy kind %v is unknown", ErrInvalidArgument, p.kind)
}

// Includes reports whether a message with id is at or after the policy's
// start: true for All and Latest. Scanners use it to drop what precedes the
// start when a backend can only seek approximately.
func (p DeliverPolicy) Includes(id message.MessageID) bool {
	switch p.kind {
	case DeliverKindStartFrom:
		return p.id.LTE(id)
	case DeliverKindStartAfter:
		return p.id.LT(id)
	}
	return true
}
