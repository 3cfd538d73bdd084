package walimpls

import (
	"fmt"
	"regexp"
)

// AccessMode says whether a WAL may write.
type AccessMode int

const (
	// ReadWrite opens the channel's writer. With a driver that declares
	// Fencing, it fences every writer of a lower term.
	ReadWrite AccessMode = iota
	// ReadOnly opens a reader: Append and Truncate return ErrReadOnly.
	ReadOnly
)

func (m AccessMode) String() string {
	switch m {
	case ReadWrite:
		return "ReadWrite"
	case ReadOnly:
		return "ReadOnly"
	}
	return fmt.Sprintf("AccessMode(%d)", int(m))
}

// MaxChannelNameLen bounds channel names so every backend can map them to a
// topic name (Kafka allows 249 characters including any prefix).
const MaxChannelNameLen = 200

// channelNameRE is the portable subset of Kafka and Pulsar topic names, so a
// channel can move between backends unchanged.
var channelNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Channel names one log and who is opening it.
type Channel struct {
	// Name maps to one topic, partition or key range of the backend.
	// Letters, digits, '.', '_' and '-', starting with a letter or digit, at
	// most MaxChannelNameLen bytes.
	Name string
	// Term is the owner's term; it grows each time ownership moves. >= 0.
	Term int64
	// AccessMode is ReadWrite or ReadOnly.
	AccessMode AccessMode
}

// Validate reports the first invalid field, wrapping ErrInvalidArgument.
func (c Channel) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("%w: channel name is empty", ErrInvalidArgument)
	case len(c.Name) > MaxChannelNameLen:
		return fmt.Errorf("%w: channel name is %d bytes, at most %d allowed", ErrInvalidArgument, len(c.Name), MaxChannelNameLen)
	case !channelNameRE.MatchString(c.Name):
		return fmt.Errorf("%w: channel name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", ErrInvalidArgument, c.Name)
	case c.Term < 0:
		return fmt.Errorf("%w: channel %q term %d is negative", ErrInvalidArgument, c.Name, c.Term)
	case c.AccessMode != ReadWrite && c.AccessMode != ReadOnly:
		return fmt.Errorf("%w: channel %q access mode %v is unknown", ErrInvalidArgument, c.Name, c.AccessMode)
	}
	return nil
}

// OpenOption is what OpenerImpls.Open needs.
type OpenOption struct {
	Channel Channel
}

// Validate reports the first invalid field, wrapping ErrInvalidArgument.
func (o *OpenOption) Validate() error {
	if o == nil {
		return fmt.Errorf("%w: OpenOption is nil", ErrInvalidArgument)
	}
	return o.Channel.Validate()
}

// DefaultReadAheadBufferSize is the scanner channel capacity when
// ReadOption.ReadAheadBufferSize is 0.
const DefaultReadAheadBufferSize = 128

// ReadOption configures a scanner.
type ReadOption struct {
	// Name labels the scanner in logs and metrics.
	Name string
	// DeliverPolicy says where reading starts.
	DeliverPolicy DeliverPolicy
	// ReadAheadBufferSize bounds how many messages the scanner holds ahead of
	// its consumer; 0 means DefaultReadAheadBufferSize.
	ReadAheadBufferSize int
}

// Validate checks the option against the driver named walName.
func (o ReadOption) Validate(walName string) error {
	if o.ReadAheadBufferSize < 0 {
		return fmt.Errorf("%w: ReadAheadBufferSize %d is negative", ErrInvalidArgument, o.ReadAheadBufferSize)
	}
	return o.DeliverPolicy.Validate(walName)
}

// BufferSize is ReadAheadBufferSize with the default applied.
func (o ReadOption) BufferSize() int {
	if o.ReadAheadBufferSize == 0 {
		return DefaultReadAheadBufferSize
	}
	return o.ReadAheadBufferSize
}

// Capabilities are what a driver promises beyond the common rules, so the
// harness and users know what to expect.
type Capabilities struct {
	// Fencing: opening ReadWrite with term T makes the appends of every WAL
	// of the channel with a lower term fail with ErrFenced, and opening
	// ReadWrite with a term lower than the highest seen fails with ErrFenced.
	Fencing bool
	// PhysicalTruncate: truncated data is gone, so reading below the
	// truncation point gives ErrOutOfRange. Without it, truncation only
	// marks data as discardable and such reads may still succeed.
	PhysicalTruncate bool
	// ExclusiveLog: a channel's log holds only what this driver's WALs
	// store (their Appends and the driver's own records); nothing else can
	// write to it (rmq's embedded store, memory's process-local one). With
	// it, nothing can land between two consecutive appends of a channel's
	// only writer, so the adaptor may feed that writer's scanners from its
	// write-ahead cache. A backend other clients can produce to (a Kafka or
	// Pulsar topic) leaves it false, as does any driver that cannot promise
	// it: false is the safe value (the adaptor then reads every scanner from
	// the backend).
	ExclusiveLog bool
	// MaxMessageSize is the largest message.EstimateSize() Append accepts; 0
	// means no limit of the driver's own.
	MaxMessageSize int
}
