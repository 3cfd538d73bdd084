package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
)

// Metadata is asked per topic, when a topic is first used and again after
// an answer says its leader moved (NOT_LEADER_OR_FOLLOWER and the like) or
// its connection failed; never for the whole cluster on a timer. So an
// Open costs the same with 10 topics or 10,000 (segmentio's Transport
// refetched every topic's metadata each second and after each
// CreateTopics: Open time grew with the number of topics).

// metadataMaxAge is how long a topic's leader is trusted without an error
// saying otherwise (franz-go's kgo refreshes every 5 minutes too).
const metadataMaxAge = 5 * time.Minute

// topicInfo is what the driver needs of a topic's metadata.
type topicInfo struct {
	partitions int
	leader     string // host:port of partition 0's leader; "" if it has none now
}

type metaEntry struct {
	info  topicInfo
	found bool
	err   error
	at    time.Time
	done  chan struct{} // closed when the load under way ends; nil if none
}

// metaCache is the client's metadata: brokers and the topics in use.
type metaCache struct {
	mu         sync.Mutex
	brokers    map[int32]string // node id -> host:port
	controller int32
	topics     map[string]*metaEntry
	next       int // round robin over brokers for cluster-wide requests
}

// topicMeta returns topic's metadata; found is false if the cluster does
// not know it. A cached answer younger than metadataMaxAge is used unless
// invalidated; concurrent loads of one topic share one request.
func (c *client) topicMeta(ctx context.Context, topic string) (topicInfo, bool, error) {
	m := &c.meta
	m.mu.Lock()
	e := m.topics[topic]
	switch {
	case e != nil && e.done != nil:
		done := e.done
		m.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return topicInfo{}, false, ctx.Err()
		}
		m.mu.Lock()
		info, found, err := e.info, e.found, e.err
		m.mu.Unlock()
		return info, found, err
	case e != nil && e.found && time.Since(e.at) < metadataMaxAge:
		info := e.info
		m.mu.Unlock()
		return info, true, nil
	}
	if e == nil {
		e = &metaEntry{}
		m.topics[topic] = e
	}
	e.done = make(chan struct{})
	m.mu.Unlock()

	info, found, err := c.loadTopicMeta(ctx, topic)

	m.mu.Lock()
	moved := e.found && e.info.leader != "" && info.leader != e.info.leader
	old := e.info.leader
	e.info, e.found, e.err, e.at = info, found, err, time.Now()
	close(e.done)
	e.done = nil
	if !found || err != nil {
		// Not cached: the next use asks again.
		if m.topics[topic] == e {
			delete(m.topics, topic)
		}
	}
	m.mu.Unlock()
	if moved {
		c.leaderMoved(topic, old)
	}
	return info, found, err
}

// leaderMoved moves the scanners of topic off the broker at old, which
// led it before.
func (c *client) leaderMoved(topic, old string) {
	c.brokersMu.Lock()
	b := c.brokers[old]
	c.brokersMu.Unlock()
	if b == nil {
		return
	}
	b.mu.Lock()
	src := b.src
	b.mu.Unlock()
	if src != nil {
		src.leaderMoved(topic)
	}
}

// invalidate makes the next use of topic ask for fresh metadata.
func (c *client) invalidate(topic string) {
	c.meta.mu.Lock()
	if e := c.meta.topics[topic]; e != nil && e.done == nil {
		e.at = time.Time{}
	}
	c.meta.mu.Unlock()
}

// leader is the address of the leader of topic's partition 0. Errors are
// notSentErrors: nothing was sent to a leader.
func (c *client) leader(ctx context.Context, topic string) (string, error) {
	info, found, err := c.topicMeta(ctx, topic)
	switch {
	case err != nil:
		return "", &notSentError{fmt.Errorf("kafka: metadata of %s: %w", topic, err)}
	case !found:
		return "", &notSentError{fmt.Errorf("kafka: metadata of %s: %w", topic, kafkago.UnknownTopicOrPartition)}
	case info.leader == "":
		c.invalidate(topic)
		return "", &notSentError{fmt.Errorf("kafka: metadata of %s: %w", topic, kafkago.LeaderNotAvailable)}
	}
	return info.leader, nil
}

// loadTopicMeta asks a broker for topic's metadata (never creating it).
func (c *client) loadTopicMeta(ctx context.Context, topic string) (topicInfo, bool, error) {
	var resp *metadata.Response
	err := c.idempotent(ctx, "", func() (err error) {
		resp, err = c.clusterMetadata(ctx, []string{topic})
		return err
	})
	if err != nil {
		return topicInfo{}, false, err
	}
	for _, t := range resp.Topics {
		if t.Name != topic {
			continue
		}
		switch code := kafkago.Error(t.ErrorCode); {
		case t.ErrorCode == 0:
		case errors.Is(code, kafkago.UnknownTopicOrPartition):
			return topicInfo{}, false, nil
		default:
			return topicInfo{}, false, code
		}
		info := topicInfo{partitions: len(t.Partitions)}
		if info.partitions == 0 {
			// A topic being created: no partitions yet.
			return topicInfo{}, false, nil
		}
		c.meta.mu.Lock()
		for _, p := range t.Partitions {
			if p.PartitionIndex == 0 && p.ErrorCode == 0 {
				info.leader = c.meta.brokers[p.LeaderID]
			}
		}
		c.meta.mu.Unlock()
		return info, true, nil
	}
	return topicInfo{}, false, nil
}

// clusterMetadata sends a Metadata request for topics (nil: every topic,
// empty: none) to any broker and records the brokers and controller.
func (c *client) clusterMetadata(ctx context.Context, topics []string) (*metadata.Response, error) {
	var resp *metadata.Response
	err := c.broker(c.anyBroker()).with(ctx, func(bc *brokerConn) error {
		m, err := bc.roundTrip(ctx, c.cfg.RequestTimeout, &metadata.Request{TopicNames: topics})
		if err != nil {
			return err
		}
		resp = m.(*metadata.Response)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.meta.mu.Lock()
	if len(resp.Brokers) > 0 {
		brokers := make(map[int32]string, len(resp.Brokers))
		for _, b := range resp.Brokers {
			brokers[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
		}
		c.meta.brokers = brokers
	}
	c.meta.controller = resp.ControllerID
	c.meta.mu.Unlock()
	return resp, nil
}

// anyBroker picks a broker for a request any broker can answer, round
// robin over the known brokers, the seeds before the first metadata.
func (c *client) anyBroker() string {
	m := &c.meta
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	if len(m.brokers) == 0 {
		return c.cfg.Brokers[m.next%len(c.cfg.Brokers)]
	}
	i := m.next % len(m.brokers)
	for _, addr := range m.brokers {
		if i == 0 {
			return addr
		}
		i--
	}
	return c.cfg.Brokers[0]
}

// controllerAddr is the controller's address if known, else any broker's.
func (c *client) controllerAddr() string {
	c.meta.mu.Lock()
	addr, ok := c.meta.brokers[c.meta.controller]
	c.meta.mu.Unlock()
	if !ok {
		return c.anyBroker()
	}
	return addr
}

// brokerAddrs lists the known brokers' ids and addresses.
func (c *client) brokerAddrs() map[int32]string {
	c.meta.mu.Lock()
	defer c.meta.mu.Unlock()
	out := make(map[int32]string, len(c.meta.brokers))
	for id, a := range c.meta.brokers {
		out[id] = a
	}
	return out
}
