// Package message is mqwal's data model: the bytes and string properties an
// application appends, the MessageID a backend assigns to them, and the
// binary codec that backends without a native property format store.
//
// A MutableMessage is what goes into Append; an ImmutableMessage is what a
// scanner delivers: the same payload and properties plus the MessageID and
// the channel it was read from. Property keys that start with
// ReservedPropertyPrefix ("_mqwal.") belong to mqwal itself (term stamps,
// fence records) and are refused in application messages.
//
// MessageIDs are backend specific. Each backend registers an unmarshaler
// under its WAL name, so an ID persisted as text (a checkpoint, a CLI
// argument) can be turned back into a MessageID with UnmarshalMessageID.
package message
