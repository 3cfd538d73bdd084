package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/createtopics"
	"github.com/segmentio/kafka-go/protocol/describeconfigs"
	"github.com/segmentio/kafka-go/protocol/listoffsets"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/mqwal/mqwal/impls/kafka/internal/deleterecords"
	"github.com/mqwal/mqwal/walimpls"
)

// client is the opener's connection to the cluster: per broker a bounded
// pool of connections, a produce sink and a fetch source (broker.go), and
// the metadata of the topics in use (meta.go), shared by every WAL.
type client struct {
	cfg    Config
	ctx    context.Context // ends when the client closes
	cancel context.CancelFunc
	tls    *tls.Config
	mech   sasl.Mechanism
	meta   metaCache
	// maxBatch is the largest batch the brokers accept (message.max.bytes);
	// a fetch asks for at least that much per partition.
	maxBatch int

	brokersMu sync.Mutex
	brokers   map[string]*broker // by address
	closed    bool
}

var errClientClosed = errors.New("kafka: client closed")

func newClient(cfg Config) (*client, error) {
	mech, err := cfg.saslMechanism()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &client{
		cfg:     cfg,
		ctx:     ctx,
		cancel:  cancel,
		tls:     tlsCfg,
		mech:    mech,
		meta:    metaCache{topics: map[string]*metaEntry{}, controller: -1},
		brokers: map[string]*broker{},
	}, nil
}

// close closes every connection and stops every sink and source.
func (c *client) close() {
	c.cancel()
	c.brokersMu.Lock()
	c.closed = true
	bs := make([]*broker, 0, len(c.brokers))
	for _, b := range c.brokers {
		bs = append(bs, b)
	}
	c.brokersMu.Unlock()
	for _, b := range bs {
		b.close()
	}
}

// producerID is the channel's idempotent-producer id: derived from the
// topic name, so every opener in every process writes the channel with the
// same id and the broker's per-id epoch fences lower terms. It lies in
// [2^62, 2^63), far above the ids brokers hand out (sequential blocks from
// 0), so it never collides with a producer the broker allocated.
func producerID(topic string) int64 {
	h := fnv.New64a()
	h.Write([]byte("mqwal/kafka/producer/"))
	h.Write([]byte(topic))
	return int64(h.Sum64()&(1<<62-1) | 1<<62)
}

// idempotent runs a request that is safe to repeat, again after errors that
// a fresh connection or fresh metadata can cure: a pooled connection that
// died with a broker restart, a leader that moved. topic, if set, gets
// fresh metadata before the next try.
func (c *client) idempotent(ctx context.Context, topic string, do func() error) error {
	deadline := time.Now().Add(c.cfg.RequestTimeout)
	for attempt := 0; ; attempt++ {
		err := do()
		if err == nil || !transient(err) || time.Now().After(deadline) || errors.Is(err, errClientClosed) {
			return err
		}
		if topic != "" {
			c.invalidate(topic)
		}
		if serr := sleepCtx(ctx, backoff(attempt)); serr != nil {
			return err
		}
	}
}

// transient reports errors worth one more try of an idempotent request.
func transient(err error) bool {
	if isStaleMetadata(err) {
		return true
	}
	var ke kafkago.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// onLeader runs fn on a pooled connection to the leader of topic.
func (c *client) onLeader(ctx context.Context, topic string, fn func(*brokerConn) error) error {
	addr, err := c.leader(ctx, topic)
	if err != nil {
		return err
	}
	return c.broker(addr).with(ctx, fn)
}

// offsets returns the partition's log start offset and high watermark.
func (c *client) offsets(ctx context.Context, topic string) (first, end int64, err error) {
	err = c.idempotent(ctx, topic, func() error {
		first, end, err = c.offsetsOnce(ctx, topic)
		return err
	})
	return first, end, err
}

// ListOffsets timestamps meaning the log start offset and the high
// watermark.
const (
	earliestOffset = -2
	latestOffset   = -1
)

func (c *client) offsetsOnce(ctx context.Context, topic string) (first, end int64, err error) {
	var code int16
	err = c.onLeader(ctx, topic, func(bc *brokerConn) error {
		// A broker answers one offset per partition per request: two
		// round trips on one connection.
		for i, ts := range []int64{earliestOffset, latestOffset} {
			m, err := bc.roundTrip(ctx, c.cfg.RequestTimeout, &listoffsets.Request{
				ReplicaID: -1,
				Topics:    []listoffsets.RequestTopic{{Topic: topic, Partitions: []listoffsets.RequestPartition{{Partition: 0, CurrentLeaderEpoch: -1, Timestamp: ts}}}},
			})
			if err != nil {
				return err
			}
			off, pcode, ok := listedOffset(m.(*listoffsets.Response), topic)
			if !ok {
				code = int16(kafkago.UnknownTopicOrPartition)
				return nil
			}
			if pcode != 0 {
				code = pcode
				return nil
			}
			if i == 0 {
				first = off
			} else {
				end = off
			}
		}
		return nil
	})
	if err == nil && code != 0 {
		err = kafkago.Error(code)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("kafka: list offsets of %s: %w", topic, err)
	}
	return first, end, nil
}

func listedOffset(resp *listoffsets.Response, topic string) (int64, int16, bool) {
	for _, t := range resp.Topics {
		if t.Topic != topic {
			continue
		}
		for _, p := range t.Partitions {
			if p.Partition == 0 {
				return p.Offset, p.ErrorCode, true
			}
		}
	}
	return 0, 0, false
}

// openTopic checks the channel's topic for an Open in mode. ReadWrite
// creates it with one partition and retention off unless it exists (or
// fails with ErrInvalidArgument if Config.DisableCreateTopics); ReadOnly
// never creates it: a missing topic is ErrNotFound. An existing topic must
// have exactly one partition (a channel is never read in part), and keep
// every record (see checkRetention) unless Config.AllowRetention.
func (c *client) openTopic(ctx context.Context, topic, channel string, mode walimpls.AccessMode) error {
	n, found, err := c.partitions(ctx, topic)
	if err != nil {
		return err
	}
	if !found {
		switch {
		case mode == walimpls.ReadOnly:
			return fmt.Errorf("%w: kafka channel %q: topic %q does not exist (a ReadOnly open never creates it)", walimpls.ErrNotFound, channel, topic)
		case c.cfg.DisableCreateTopics:
			return fmt.Errorf("%w: kafka topic %q of channel %q does not exist and topic creation is disabled (Config.DisableCreateTopics)",
				walimpls.ErrInvalidArgument, topic, channel)
		}
		created, err := c.createTopic(ctx, topic)
		if err != nil || created {
			return err
		}
		// Created by someone else since the metadata was read.
		if n, found, err = c.partitions(ctx, topic); err != nil {
			return err
		} else if !found {
			return fmt.Errorf("%w: kafka topic %q of channel %q: the broker says it exists, the metadata does not list it", walimpls.ErrUnavailable, topic, channel)
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: kafka topic %q of channel %q has %d partitions; a channel maps to a topic with exactly one partition, and reading one partition of several would miss records",
			walimpls.ErrInvalidArgument, topic, channel, n)
	}
	if c.cfg.AllowRetention {
		return nil
	}
	return c.checkRetention(ctx, topic, channel)
}

// partitions returns topic's partition count from the metadata; found is
// false if the cluster does not know the topic. A topic missing from the
// cache is always asked for.
func (c *client) partitions(ctx context.Context, topic string) (n int, found bool, err error) {
	info, found, err := c.topicMeta(ctx, topic)
	var ke kafkago.Error
	switch {
	case errors.As(err, &ke) && (errors.Is(ke, kafkago.TopicAuthorizationFailed) || errors.Is(ke, kafkago.InvalidTopic)):
		return 0, false, fmt.Errorf("%w: kafka: metadata of %s: %w", walimpls.ErrInvalidArgument, topic, err)
	case err != nil:
		return 0, false, fmt.Errorf("%w: kafka: metadata of %s: %w", walimpls.ErrUnavailable, topic, err)
	}
	return info.partitions, found, nil
}

// createTopic creates topic with one partition and retention off unless it
// exists, and reports whether it did.
func (c *client) createTopic(ctx context.Context, topic string) (bool, error) {
	rf := int16(c.cfg.ReplicationFactor)
	if rf == 0 {
		rf = -1
	}
	cfgs := make([]createtopics.RequestConfig, len(walTopicConfigs))
	for i, e := range walTopicConfigs {
		cfgs[i] = createtopics.RequestConfig{Name: e.ConfigName, Value: e.ConfigValue}
	}
	var res createtopics.ResponseTopic
	err := c.idempotent(ctx, "", func() error {
		err := c.broker(c.controllerAddr()).with(ctx, func(bc *brokerConn) error {
			m, err := bc.roundTrip(ctx, c.cfg.RequestTimeout, &createtopics.Request{
				Topics:    []createtopics.RequestTopic{{Name: topic, NumPartitions: 1, ReplicationFactor: rf, Configs: cfgs}},
				TimeoutMs: int32(c.cfg.RequestTimeout / time.Millisecond),
			})
			if err != nil {
				return err
			}
			res = createtopics.ResponseTopic{ErrorCode: int16(kafkago.Unknown), ErrorMessage: "no answer for the topic"}
			for _, t := range m.(*createtopics.Response).Topics {
				if t.Name == topic {
					res = t
				}
			}
			return nil
		})
		if err == nil && errors.Is(kafkago.Error(res.ErrorCode), kafkago.NotController) {
			// Learn the new controller, then ask it.
			if _, err := c.clusterMetadata(ctx, []string{}); err != nil {
				return err
			}
			return kafkago.NotController
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%w: kafka: create topic %s: %w", walimpls.ErrUnavailable, topic, err)
	}
	var cerr error = kafkago.Error(res.ErrorCode)
	if res.ErrorMessage != "" {
		cerr = fmt.Errorf("%w: %s", cerr, res.ErrorMessage)
	}
	switch {
	case res.ErrorCode == 0:
		c.invalidate(topic)
		return true, nil
	case errors.Is(cerr, kafkago.TopicAlreadyExists):
		return false, nil
	case errors.Is(cerr, kafkago.InvalidReplicationFactor) || errors.Is(cerr, kafkago.InvalidTopic) || errors.Is(cerr, kafkago.PolicyViolation) ||
		errors.Is(cerr, kafkago.InvalidConfiguration) || errors.Is(cerr, kafkago.TopicAuthorizationFailed) || errors.Is(cerr, kafkago.ClusterAuthorizationFailed):
		return false, fmt.Errorf("%w: kafka: create topic %s: %w", walimpls.ErrInvalidArgument, topic, cerr)
	default:
		return false, fmt.Errorf("%w: kafka: create topic %s: %w", walimpls.ErrUnavailable, topic, cerr)
	}
}

// deleteRecords moves the log start offset of topic up to offset.
func (c *client) deleteRecords(ctx context.Context, topic string, offset int64) error {
	return c.idempotent(ctx, topic, func() error { return c.deleteRecordsOnce(ctx, topic, offset) })
}

func (c *client) deleteRecordsOnce(ctx context.Context, topic string, offset int64) error {
	code := int16(-1)
	err := c.onLeader(ctx, topic, func(bc *brokerConn) error {
		m, err := bc.roundTrip(ctx, c.cfg.RequestTimeout, &deleterecords.Request{
			Topics:    []deleterecords.RequestTopic{{Name: topic, Partitions: []deleterecords.RequestPartition{{PartitionIndex: 0, Offset: offset}}}},
			TimeoutMs: int32(c.cfg.RequestTimeout / time.Millisecond),
		})
		if err != nil {
			return err
		}
		for _, t := range m.(*deleterecords.Response).Topics {
			for _, p := range t.Partitions {
				if t.Name == topic && p.PartitionIndex == 0 {
					code = p.ErrorCode
				}
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return fmt.Errorf("kafka: delete records of %s below %d: %w", topic, offset, err)
	case code < 0:
		return fmt.Errorf("kafka: delete records of %s: no answer for the partition", topic)
	case code != 0:
		return fmt.Errorf("kafka: delete records of %s below %d: %w", topic, offset, kafkago.Error(code))
	}
	return nil
}

// describeConfigs reads the named configs of one resource (a topic, or a
// broker by node id) from addr; names it does not know are missing from
// the result. A resource error comes back as a kafkago.Error.
func (c *client) describeConfigs(ctx context.Context, addr string, resourceType int8, name string, names ...string) (map[string]string, error) {
	var res describeconfigs.ResponseResource
	err := c.broker(addr).with(ctx, func(bc *brokerConn) error {
		m, err := bc.roundTrip(ctx, c.cfg.RequestTimeout, &describeconfigs.Request{
			Resources: []describeconfigs.RequestResource{{ResourceType: resourceType, ResourceName: name, ConfigNames: names}},
		})
		if err != nil {
			return err
		}
		res = describeconfigs.ResponseResource{ErrorCode: int16(kafkago.Unknown)}
		for _, r := range m.(*describeconfigs.Response).Resources {
			if r.ResourceName == name {
				res = r
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if res.ErrorCode != 0 {
		return nil, kafkago.Error(res.ErrorCode)
	}
	out := make(map[string]string, len(res.ConfigEntries))
	for _, e := range res.ConfigEntries {
		out[e.ConfigName] = e.ConfigValue
	}
	return out, nil
}

// brokerConfigs reads the named configs of one broker.
func (c *client) brokerConfigs(ctx context.Context, names ...string) (map[string]string, error) {
	if _, err := c.clusterMetadata(ctx, []string{}); err != nil {
		return nil, err
	}
	id, addr := int32(-1), ""
	for i, a := range c.brokerAddrs() {
		if id < 0 || i < id {
			id, addr = i, a
		}
	}
	if id < 0 {
		return nil, errors.New("kafka: metadata lists no broker")
	}
	return c.describeConfigs(ctx, addr, int8(kafkago.ResourceTypeBroker), strconv.Itoa(int(id)), names...)
}

// isStaleMetadata reports errors that mean "ask again after refreshing
// metadata": the request was refused before the broker acted on it.
func isStaleMetadata(err error) bool {
	return errors.Is(err, kafkago.NotLeaderForPartition) || errors.Is(err, kafkago.LeaderNotAvailable) ||
		errors.Is(err, kafkago.UnknownTopicOrPartition) || errors.Is(err, kafkago.FencedLeaderEpoch) ||
		errors.Is(err, kafkago.UnknownLeaderEpoch) || errors.Is(err, kafkago.NotController)
}

func backoff(attempt int) time.Duration {
	d := 10 * time.Millisecond << min(attempt, 5)
	return min(d, 300*time.Millisecond)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
