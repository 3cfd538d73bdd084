package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/sasl"

	"github.com/mqwal/mqwal/impls/kafka/internal/deleterecords"
	"github.com/mqwal/mqwal/walimpls"
)

// client is the opener's connection to the cluster: one segmentio
// Transport (connection pools and a metadata cache) shared by every WAL,
// and what a scanner needs to open its own fetch connection (fetch.go).
type client struct {
	cfg       Config
	addr      net.Addr
	transport *kafkago.Transport
	kc        *kafkago.Client
	tls       *tls.Config
	mech      sasl.Mechanism
	cancel    context.CancelFunc

	lookupMu     sync.Mutex
	lookupIdle   map[string][]*fetchConn // idle lookup connections by broker address
	lookupClosed bool

	refreshMu   sync.Mutex
	lastRefresh time.Time
}

// metadataTTL is short because a leader move leaves cached metadata stale:
// segmentio has no call to refresh it on NOT_LEADER, so the driver also
// drops the pools (forceRefresh) when a request says the leader moved.
const metadataTTL = time.Second

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
	t := &kafkago.Transport{
		DialTimeout: cfg.DialTimeout,
		IdleTimeout: 30 * time.Second,
		MetadataTTL: metadataTTL,
		ClientID:    cfg.ClientID,
		TLS:         tlsCfg,
		SASL:        mech,
		Context:     ctx,
	}
	return &client{
		cfg:       cfg,
		addr:      kafkago.TCP(cfg.Brokers...),
		transport: t,
		kc:        &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Timeout: cfg.RequestTimeout, Transport: t},
		tls:       tlsCfg,
		mech:      mech,
		cancel:    cancel,

		lookupIdle: map[string][]*fetchConn{},
	}, nil
}

func (c *client) close() {
	c.cancel()
	c.closeLookups()
	c.transport.CloseIdleConnections()
}

// forceRefresh drops the transport's pools so the next request fetches
// fresh metadata; at most every 50ms, so a burst of NOT_LEADER answers
// costs one refresh.
func (c *client) forceRefresh() {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if time.Since(c.lastRefresh) < 50*time.Millisecond {
		return
	}
	c.lastRefresh = time.Now()
	c.transport.CloseIdleConnections()
}

// forceRefreshNow drops the pools regardless of the last refresh.
func (c *client) forceRefreshNow() {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.lastRefresh = time.Now()
	c.transport.CloseIdleConnections()
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

// offsets returns the partition's log start offset and high watermark.
func (c *client) offsets(ctx context.Context, topic string) (first, end int64, err error) {
	err = c.idempotent(ctx, func() error {
		first, end, err = c.offsetsOnce(ctx, topic)
		return err
	})
	return first, end, err
}

// idempotent runs a request that is safe to repeat, again after errors that
// a fresh connection or fresh metadata can cure: a pooled connection that
// died with a broker restart, a leader that moved.
func (c *client) idempotent(ctx context.Context, do func() error) error {
	deadline := time.Now().Add(c.cfg.RequestTimeout)
	for attempt := 0; ; attempt++ {
		err := do()
		if err == nil || !transient(err) || time.Now().After(deadline) {
			return err
		}
		c.forceRefresh()
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

func (c *client) offsetsOnce(ctx context.Context, topic string) (first, end int64, err error) {
	resp, err := c.kc.ListOffsets(ctx, &kafkago.ListOffsetsRequest{
		Topics: map[string][]kafkago.OffsetRequest{topic: {kafkago.FirstOffsetOf(0), kafkago.LastOffsetOf(0)}},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("kafka: list offsets of %s: %w", topic, err)
	}
	for _, p := range resp.Topics[topic] {
		if p.Partition != 0 {
			continue
		}
		if p.Error != nil {
			return 0, 0, fmt.Errorf("kafka: list offsets of %s: %w", topic, p.Error)
		}
		return p.FirstOffset, p.LastOffset, nil
	}
	return 0, 0, fmt.Errorf("kafka: list offsets of %s: %w", topic, kafkago.UnknownTopicOrPartition)
}

// openTopic checks the channel's topic for an Open in mode. ReadWrite
// creates it with one partition and retention off unless it exists (or
// fails with ErrInvalidArgument if Config.DisableCreateTopics); ReadOnly
// never creates it: a missing topic is ErrNotFound. An existing topic must
// have exactly one partition (a channel is never read in part), and keep
// every record (see checkRetention) unless Config.AllowRetention.
func (c *client) openTopic(ctx context.Context, topic, channel string, mode walimpls.AccessMode) error {
	n, found, err := c.partitions(ctx, topic, mode == walimpls.ReadOnly || c.cfg.DisableCreateTopics)
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
		if n, found, err = c.partitions(ctx, topic, true); err != nil {
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
// false if the cluster does not know the topic. With refresh, a topic
// missing from the cached metadata is looked up again with fresh metadata
// (the cache may predate it).
func (c *client) partitions(ctx context.Context, topic string, refresh bool) (n int, found bool, err error) {
	for refreshed := false; ; refreshed = true {
		var resp *kafkago.MetadataResponse
		err := c.idempotent(ctx, func() (err error) {
			resp, err = c.kc.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
			return err
		})
		if err != nil {
			return 0, false, fmt.Errorf("%w: kafka: metadata of %s: %w", walimpls.ErrUnavailable, topic, err)
		}
		for _, t := range resp.Topics {
			switch {
			case t.Name != topic || errors.Is(t.Error, kafkago.UnknownTopicOrPartition):
			case errors.Is(t.Error, kafkago.TopicAuthorizationFailed):
				return 0, false, fmt.Errorf("%w: kafka: metadata of %s: %w", walimpls.ErrInvalidArgument, topic, t.Error)
			case t.Error != nil:
				return 0, false, fmt.Errorf("%w: kafka: metadata of %s: %w", walimpls.ErrUnavailable, topic, t.Error)
			case len(t.Partitions) > 0:
				return len(t.Partitions), true, nil
			}
		}
		if !refresh || refreshed {
			return 0, false, nil
		}
		c.forceRefreshNow()
	}
}

// createTopic creates topic with one partition and retention off unless it
// exists, and reports whether it did.
func (c *client) createTopic(ctx context.Context, topic string) (bool, error) {
	rf := c.cfg.ReplicationFactor
	if rf == 0 {
		rf = -1
	}
	var resp *kafkago.CreateTopicsResponse
	err := c.idempotent(ctx, func() (err error) {
		resp, err = c.kc.CreateTopics(ctx, &kafkago.CreateTopicsRequest{
			Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: rf, ConfigEntries: walTopicConfigs}},
		})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%w: kafka: create topic %s: %w", walimpls.ErrUnavailable, topic, err)
	}
	switch err := resp.Errors[topic]; {
	case err == nil:
		return true, nil
	case errors.Is(err, kafkago.TopicAlreadyExists):
		return false, nil
	case errors.Is(err, kafkago.InvalidReplicationFactor) || errors.Is(err, kafkago.InvalidTopic) || errors.Is(err, kafkago.PolicyViolation) ||
		errors.Is(err, kafkago.InvalidConfiguration):
		return false, fmt.Errorf("%w: kafka: create topic %s: %w", walimpls.ErrInvalidArgument, topic, err)
	default:
		return false, fmt.Errorf("%w: kafka: create topic %s: %w", walimpls.ErrUnavailable, topic, err)
	}
}

// deleteRecords moves the log start offset of topic up to offset.
func (c *client) deleteRecords(ctx context.Context, topic string, offset int64) error {
	return c.idempotent(ctx, func() error { return c.deleteRecordsOnce(ctx, topic, offset) })
}

func (c *client) deleteRecordsOnce(ctx context.Context, topic string, offset int64) error {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	m, err := c.transport.RoundTrip(rctx, c.addr, &deleterecords.Request{
		Topics:    []deleterecords.RequestTopic{{Name: topic, Partitions: []deleterecords.RequestPartition{{PartitionIndex: 0, Offset: offset}}}},
		TimeoutMs: int32(c.cfg.RequestTimeout / time.Millisecond),
	})
	if err != nil {
		return fmt.Errorf("kafka: delete records of %s below %d: %w", topic, offset, err)
	}
	resp := m.(*deleterecords.Response)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return fmt.Errorf("kafka: delete records of %s below %d: %w", topic, offset, kafkago.Error(p.ErrorCode))
			}
			return nil
		}
	}
	return fmt.Errorf("kafka: delete records of %s: empty response", topic)
}

// produce sends one framed batch (see frameBatch) with acks=all; the
// Client applies RequestTimeout. A single bytes.Reader matters: io.Copy
// then uses its WriteTo instead of allocating a 32 KiB buffer per request.
func (c *client) produce(ctx context.Context, topic string, framed []byte) (*kafkago.ProduceResponse, error) {
	return c.kc.RawProduce(ctx, &kafkago.RawProduceRequest{
		Topic:        topic,
		Partition:    0,
		RequiredAcks: kafkago.RequireAll,
		RawRecords:   protocol.RawRecordSet{Reader: bytes.NewReader(framed)},
	})
}

// brokerConfigs reads the named configs of one broker; names the broker
// does not know are missing from the result.
func (c *client) brokerConfigs(ctx context.Context, names ...string) (map[string]string, error) {
	meta, err := c.kc.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{}})
	if err != nil {
		return nil, err
	}
	if len(meta.Brokers) == 0 {
		return nil, errors.New("kafka: metadata lists no broker")
	}
	resp, err := c.kc.DescribeConfigs(ctx, &kafkago.DescribeConfigsRequest{
		Resources: []kafkago.DescribeConfigRequestResource{{
			ResourceType: kafkago.ResourceTypeBroker,
			ResourceName: strconv.Itoa(meta.Brokers[0].ID),
			ConfigNames:  names,
		}},
	})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return nil, r.Error
		}
		for _, e := range r.ConfigEntries {
			out[e.ConfigName] = e.ConfigValue
		}
	}
	return out, nil
}

// isStaleMetadata reports errors that mean "ask again after refreshing
// metadata": the request was refused before the broker acted on it.
func isStaleMetadata(err error) bool {
	var te *protocol.TopicError
	var tpe *protocol.TopicPartitionError
	return errors.Is(err, kafkago.NotLeaderForPartition) || errors.Is(err, kafkago.LeaderNotAvailable) ||
		errors.Is(err, kafkago.UnknownTopicOrPartition) || errors.Is(err, kafkago.FencedLeaderEpoch) ||
		errors.Is(err, kafkago.UnknownLeaderEpoch) || errors.As(err, &te) || errors.As(err, &tpe)
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
