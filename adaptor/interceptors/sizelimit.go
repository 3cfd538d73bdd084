package interceptors

import (
	"context"
	"fmt"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// ReservedOverhead is how many bytes of the backend's message size limit
// the adaptor keeps for the properties it adds (term stamp, fence), so that
// an application message within Opener.Capabilities().MaxMessageSize is
// never refused by the driver.
const ReservedOverhead = 64

// SizeLimit fails an Append whose message (payload plus properties, as the
// application gave it) exceeds Max with ErrMessageTooLarge before the driver
// is called. Max <= 0 takes Param.Capabilities.MaxMessageSize (the backend's
// limit net of ReservedOverhead); if that is 0 too, nothing is limited.
type SizeLimit struct {
	Max int
}

// Build returns the interceptor of one WAL.
func (s SizeLimit) Build(p Param) Interceptor {
	limit := s.Max
	if limit <= 0 {
		limit = p.Capabilities.MaxMessageSize
	}
	return &sizeLimit{max: limit, walName: p.WALName, channel: p.Channel.Name}
}

type sizeLimit struct {
	Nop
	max     int
	walName string
	channel string
}

func (s *sizeLimit) DoAppend(ctx context.Context, msg message.MutableMessage, next AppendFunc) (*wal.AppendResult, error) {
	// The adaptor's own records (a fence) are small and not the
	// application's to limit.
	if _, internal := msg.Properties()[PropertyFence]; s.max > 0 && !internal {
		if n := msg.EstimateSize(); n > s.max {
			return nil, fmt.Errorf("%w: %s channel %q: message of %d bytes (payload plus properties), limit %d",
				wal.ErrMessageTooLarge, s.walName, s.channel, n, s.max)
		}
	}
	return next(ctx, msg)
}
