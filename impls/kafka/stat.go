package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go/protocol"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

var (
	_ walimpls.StatReader    = (*wal)(nil)
	_ walimpls.ChannelLister = (*opener)(nil)
)

// Stat implements walimpls.StatReader from what the partition's leader
// tells without reading messages:
//   - First and Last: the log start offset and the offset before the high
//     watermark (ListOffsets), as DeliverAll and LatestID see them.
//   - Messages: high watermark - log start offset, the offsets retained.
//     That counts every record: the driver's fence records (two per
//     ReadWrite Open, one per Truncate of the newest messages), and, on a
//     topic other clients write too, their records, transaction markers
//     and aborted records. It is an upper bound of what a scanner delivers.
//   - Bytes: the partition's size in the leader's log directories
//     (DescribeLogDirs, one request); one replica's bytes, not the
//     cluster's. Unknown if the broker does not say (no DescribeLogDirs v1,
//     or not authorized to describe the cluster, which answers no
//     directories).
//   - Term: the producer epoch of the newest batch of the channel's
//     producer in the log, the highest term that opened the channel
//     ReadWrite (every Open writes a fence batch with epoch = term, and the
//     broker refuses lower epochs after it); found as a claim finds it,
//     usually with one fetch of the tail. Unknown when no such batch is
//     retained.
//   - Writer: WriterHeld when a ReadWrite WAL of this opener with Term is
//     open and not fenced; otherwise WriterUnknown: the broker keeps an
//     idempotent producer's state until producer.id.expiration.ms after
//     its last batch whether or not its writer is still open, so another
//     process's writer cannot be told from a closed one.
func (w *wal) Stat(ctx context.Context) (walimpls.ChannelStat, error) {
	if err := w.CheckRead(ctx, walimpls.ReadOption{}); err != nil {
		return walimpls.ChannelStat{}, err
	}
	st := walimpls.ChannelStat{
		Channel:     w.Channel().Name,
		BackendName: w.topic,
		Bytes:       walimpls.Unknown,
		Term:        walimpls.Unknown,
	}
	c := w.o.client
	unavailable := func(what string, err error) (walimpls.ChannelStat, error) {
		if ctx.Err() != nil {
			return walimpls.ChannelStat{}, ctx.Err()
		}
		return walimpls.ChannelStat{}, fmt.Errorf("%w: kafka channel %q: stat: %s: %w", walimpls.ErrUnavailable, st.Channel, what, err)
	}
	first, end, err := c.offsets(ctx, w.topic)
	if err != nil {
		return unavailable("offsets", err)
	}
	st.Messages = max(end-first, 0)
	if end > first {
		st.First, st.Last = helper.NewInt64ID(Name, first), helper.NewInt64ID(Name, end-1)
		newest, found, err := c.newestBatchOf(ctx, w.topic, producerID(w.topic), first, end)
		if err != nil {
			return unavailable("the newest batch of the channel's producer", err)
		}
		if found {
			st.Term = int64(newest.epoch)
		}
	}
	if st.Bytes, err = c.partitionBytes(ctx, w.topic); err != nil {
		return unavailable("log dirs", err)
	}
	st.Writer = w.o.writerState(st.Channel, st.Term)
	return st, nil
}

// writerState is WriterHeld if this opener's open ReadWrite WAL of
// channel has term and is not fenced or closed, else WriterUnknown.
func (o *opener) writerState(channel string, term int64) walimpls.WriterState {
	o.mu.Lock()
	w := o.writers[channel]
	o.mu.Unlock()
	if w != nil && term != walimpls.Unknown && w.Channel().Term == term && w.writer.failedErr() == nil {
		return walimpls.WriterHeld
	}
	return walimpls.WriterUnknown
}

// ListChannels implements walimpls.ChannelLister: the topics of the
// cluster whose name starts with the configured prefix (one Metadata
// request for every topic), without it, sorted. Kafka's internal topics
// (__consumer_offsets and the like) never carry a prefix the driver
// writes; with an empty prefix they are left out.
func (o *opener) ListChannels(ctx context.Context) ([]string, error) {
	if err := o.wals.Check("kafka opener"); err != nil {
		return nil, err
	}
	c := o.client
	var names []string
	err := c.idempotent(ctx, "", func() error {
		resp, err := c.clusterMetadata(ctx, nil)
		if err != nil {
			return err
		}
		names = names[:0]
		for _, t := range resp.Topics {
			if t.ErrorCode != 0 || t.IsInternal || !strings.HasPrefix(t.Name, o.cfg.TopicPrefix) {
				continue
			}
			if name := strings.TrimPrefix(t.Name, o.cfg.TopicPrefix); name != "" && !strings.HasPrefix(t.Name, "__") {
				names = append(names, name)
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: kafka: list the topics with prefix %q: %w", walimpls.ErrUnavailable, o.cfg.TopicPrefix, err)
	}
	slices.Sort(names)
	return names, nil
}

// partitionBytes asks topic's leader for the size of its partition 0 in
// its log directories: walimpls.Unknown if the broker speaks no
// DescribeLogDirs version the driver does or lists no directory holding
// it.
func (c *client) partitionBytes(ctx context.Context, topic string) (int64, error) {
	size := int64(walimpls.Unknown)
	err := c.idempotent(ctx, topic, func() error {
		return c.onLeader(ctx, topic, func(bc *brokerConn) error {
			if bc.logDirsV < 0 {
				return nil
			}
			corr := bc.nextCorr()
			bc.req = encodeLogDirs(bc.req[:0], bc.logDirsV, corr, bc.clientID, topic)
			body, err := bc.rawRoundTrip(ctx, c.cfg.RequestTimeout, bc.req, 1<<20)
			if err != nil {
				return err
			}
			size, err = decodeLogDirs(body, corr, topic)
			return err
		})
	})
	return size, err
}

// rawRoundTrip writes req (a whole request, size first) and reads one
// answer of at most limit bytes, returned without its size. An error
// means the connection is unusable.
func (bc *brokerConn) rawRoundTrip(ctx context.Context, timeout time.Duration, req []byte, limit int) ([]byte, error) {
	if err := bc.pc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = bc.pc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := bc.pc.Write(req); err != nil {
		return nil, ctxErr(ctx, err)
	}
	var size [4]byte
	if _, err := io.ReadFull(bc.pc, size[:]); err != nil {
		return nil, ctxErr(ctx, err)
	}
	n := int(int32(binary.BigEndian.Uint32(size[:])))
	if n < 4 || n > limit {
		return nil, fmt.Errorf("kafka: an answer of %d bytes from %s", n, bc.addr)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(bc.pc, body); err != nil {
		return nil, ctxErr(ctx, err)
	}
	if !stop() {
		return nil, ctxErr(ctx, context.Canceled)
	}
	if err := bc.pc.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return body, nil
}

// encodeLogDirs appends a DescribeLogDirs request (header v1, request v1:
// Kafka 4.0's floor and the last before the flexible encoding) for
// partition 0 of topic.
func encodeLogDirs(dst []byte, version int16, corr int32, clientID, topic string) []byte {
	dst, start := appendRequestHeader(dst, protocol.DescribeLogDirs, version, corr, clientID)
	dst = binary.BigEndian.AppendUint32(dst, 1) // one topic
	dst = appendString16(dst, topic)
	dst = binary.BigEndian.AppendUint32(dst, 1) // one partition
	dst = binary.BigEndian.AppendUint32(dst, 0) // partition 0
	return endRequest(dst, start)
}

// decodeLogDirs reads a DescribeLogDirs v1 answer (after its size): the
// size of topic's partition 0 summed over the directories that hold it
// (not counting a future replica being moved in), or walimpls.Unknown if
// none does or a directory failed (KAFKA_STORAGE_ERROR: it may hold it).
func decodeLogDirs(b []byte, corr int32, topic string) (int64, error) {
	r := wire{b: b}
	if got := r.int32(); got != corr && r.err == nil {
		return 0, fmt.Errorf("kafka: describe log dirs: correlation id %d, want %d", got, corr)
	}
	r.int32() // throttle time (v1; the version the driver sends, see conn.go)
	size, found, failed := int64(0), false, false
	for range r.arrayLen(2 + 2 + 4) {
		code := r.int16()
		r.string16() // the directory
		failed = failed || code != 0
		for range r.arrayLen(2 + 4) {
			name := r.string16()
			for range r.arrayLen(4 + 8 + 8 + 1) {
				p, n := r.int32(), r.int64()
				r.int64() // offset lag
				future := r.int8() != 0
				if code == 0 && p == 0 && !future && string(name) == topic {
					if n < 0 || size+n < size {
						return 0, fmt.Errorf("kafka: describe log dirs: %s has a size of %d bytes", topic, n)
					}
					size += n
					found = true
				}
			}
		}
	}
	if r.err != nil {
		return 0, fmt.Errorf("kafka: describe log dirs: %w", r.err)
	}
	if !found || failed {
		return walimpls.Unknown, nil
	}
	return size, nil
}
