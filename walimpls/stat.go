package walimpls

import (
	"context"
	"fmt"

	"github.com/mqwal/mqwal/message"
)

// Unknown is the value of a ChannelStat count the backend cannot tell.
const Unknown = -1

// WriterState says whether a ReadWrite WAL holds a channel now.
type WriterState int

const (
	// WriterUnknown: the backend cannot tell.
	WriterUnknown WriterState = iota
	// WriterHeld: a ReadWrite WAL of the channel's highest term is open.
	WriterHeld
	// WriterNone: no ReadWrite WAL of the channel is open.
	WriterNone
)

func (s WriterState) String() string {
	switch s {
	case WriterUnknown:
		return "unknown"
	case WriterHeld:
		return "held"
	case WriterNone:
		return "none"
	}
	return fmt.Sprintf("WriterState(%d)", int(s))
}

// ChannelStat is what a backend can tell about one channel without reading
// its messages. Counts it cannot tell are Unknown (-1).
type ChannelStat struct {
	// Channel is the channel's name.
	Channel string
	// BackendName is the backend's own name for the channel (a Kafka or
	// Pulsar topic, an rmq key prefix), "" when it has none to show.
	BackendName string
	// First is the oldest retained record's ID and Last the newest's; both
	// nil when nothing is retained. Records include the driver's and the
	// adaptor's own (fences), so First may come before the oldest message a
	// scanner delivers, and Last after the newest.
	First, Last message.MessageID
	// Messages is how many records are retained from First to Last,
	// counted as Last and First are (own records included), or Unknown.
	Messages int64
	// Bytes is how many bytes the retained records take in the backend
	// (on disk, compressed, with overhead), or Unknown.
	Bytes int64
	// Term is the highest term that opened the channel ReadWrite, or
	// Unknown (also when the backend keeps no terms).
	Term int64
	// Writer says whether a ReadWrite WAL of Term holds the channel.
	Writer WriterState
}

// StatReader is optionally implemented by a ROWALImpls that can describe
// its channel (walctl stat). Stat honours ctx and reads no messages: it
// asks the backend's metadata (offsets, indexes, counters), so it stays
// cheap on a long channel. A channel never written has nil First and Last
// and Messages 0 (or Unknown).
type StatReader interface {
	Stat(ctx context.Context) (ChannelStat, error)
}

// ChannelLister is optionally implemented by an OpenerImpls that can list
// the channels its backend holds: every channel that has been opened for
// writing through the backend's configuration (an rmq data directory, the
// Kafka topics with the configured prefix, the Pulsar topics of the
// namespace with the prefix), sorted. It honours ctx.
type ChannelLister interface {
	ListChannels(ctx context.Context) ([]string, error)
}
