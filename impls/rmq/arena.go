package rmq

// scanBuffers are what one scanner reuses from chunk to chunk.
type scanBuffers struct {
	// span is the value log window: its buffer (1 MiB) is allocated once
	// per scan, its bytes are copied out before the next chunk reuses it.
	span vlogSpan
	// payloads owns the copies handed to the consumer.
	payloads payloadArena
}

// arenaBlock is the size of the blocks a payloadArena cuts payloads from,
// and arenaMaxShared the largest payload it shares a block with others.
const (
	arenaBlock     = 64 << 10
	arenaMaxShared = arenaBlock / 8
)

// A payloadArena copies small payloads into shared blocks, so a scan of
// 1 KiB messages allocates once per 64 messages instead of once per
// message (the allocations and the garbage collector's work on them were
// a fifth of a cold scan's CPU). The price: a message the consumer keeps
// keeps its block, at most arenaBlock bytes, alive; a payload above
// arenaMaxShared gets an allocation of its own, so that is at most 8
// payloads' worth.
//
// Each copy is capped at its length, so an append by the consumer
// reallocates instead of writing over the next payload.
type payloadArena struct{ block []byte }

func (a *payloadArena) copy(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	if len(p) > arenaMaxShared {
		return append([]byte(nil), p...)
	}
	if cap(a.block)-len(a.block) < len(p) {
		a.block = make([]byte, 0, arenaBlock)
	}
	n := len(a.block)
	a.block = append(a.block, p...)
	return a.block[n:len(a.block):len(a.block)]
}
