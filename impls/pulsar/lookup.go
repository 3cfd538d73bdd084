package pulsar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/walimpls"
)

// partitionInfix is how Pulsar names the partitions of a partitioned
// topic: "<topic>-partition-<i>".
const partitionInfix = "-partition-"

// checkTopic runs the checks Open makes before anything else touches the
// channel's topic: the channel's name does not read as a partition, a
// ReadOnly open finds the topic (it never creates one), and the topic is
// not partitioned.
func (o *opener) checkTopic(ctx context.Context, ch walimpls.Channel, topic string) error {
	if strings.Contains(ch.Name, partitionInfix) || strings.Contains(o.cfg.topicPrefix, partitionInfix) {
		return fmt.Errorf("%w: pulsar channel %q: a topic name with %q is a partition of a partitioned topic to Pulsar clients (%s)",
			walimpls.ErrInvalidArgument, ch.Name, partitionInfix, topic)
	}
	if ch.AccessMode == walimpls.ReadOnly {
		// First: asking for the partitions can create a partitioned topic
		// (a broker with allowAutoTopicCreationType=partitioned, PIP-344).
		exists, err := o.topicExists(ctx, topic)
		if err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("%w: pulsar channel %q: topic %s does not exist (a ReadOnly open never creates one)",
				walimpls.ErrNotFound, ch.Name, topic)
		}
	}
	var parts []string
	err := runBounded(ctx, o.cfg.operationTimeout, "look up the partitions of", topic, func() (err error) { parts, err = o.client.TopicPartitions(topic); return err })
	if err != nil {
		return err
	}
	if n := len(parts); n > 1 || (n == 1 && parts[0] != topic) {
		return fmt.Errorf("%w: pulsar channel %q: topic %s is partitioned (%d partitions); a channel is one non-partitioned topic, and reading one partition would be a partial read",
			walimpls.ErrInvalidArgument, ch.Name, topic, n)
	}
	return nil
}

// topicExists reports whether topic exists, without creating it. Every
// call of pulsar-client-go v0.19.0 that names a topic (producer, reader,
// consumer, even PARTITIONED_METADATA on some brokers) creates it where
// auto-creation is allowed, the default; a pattern subscription is the one
// that lists the namespace's topics first and subscribes only to those (see
// matchTopics). So: a pattern matching the topic's name alone.
func (o *opener) topicExists(ctx context.Context, topic string) (bool, error) {
	local := strings.TrimPrefix(topic, "persistent://"+o.cfg.tenant+"/"+o.cfg.namespace+"/")
	topics, err := o.matchTopics(ctx, "look up", topic, "persistent://"+o.cfg.tenant+"/"+o.cfg.namespace+"/"+regexp.QuoteMeta(local)+"$")
	return len(topics) > 0, err
}

// matchTopics returns the existing persistent topics of the namespace (a
// partitioned one by its partitions' names) that match pattern, a regular
// expression over "persistent://tenant/namespace/topic", without creating
// any: a non-durable pattern subscription, the only call of the client that
// lists topics (GET_TOPICS_OF_NAMESPACE) and subscribes only to those, with
// force_topic_creation=false. It costs the list of the namespace's topics
// and a subscription and a GET_LAST_MESSAGE_ID per matching topic. op and
// what name the lookup in errors.
func (o *opener) matchTopics(ctx context.Context, op, what, pattern string) ([]string, error) {
	var topics []string
	err := runBounded(ctx, o.cfg.operationTimeout, op, what, func() error {
		c, err := o.client.Subscribe(pc.ConsumerOptions{
			TopicsPattern:       pattern,
			SubscriptionName:    "mqwal-exists-" + newNonce(),
			SubscriptionMode:    pc.NonDurable,
			Type:                pc.Exclusive,
			ReceiverQueueSize:   1,
			AutoDiscoveryPeriod: time.Hour, // closed at once
		})
		if err != nil {
			return err
		}
		defer c.Close()
		ids, err := c.GetLastMessageIDs()
		if err != nil {
			return err
		}
		names := make([]string, 0, len(ids))
		for _, id := range ids {
			names = append(names, id.Topic())
		}
		topics = names
		return nil
	})
	if err != nil {
		return nil, err // the call may go on in the background: topics is not to be read
	}
	return topics, nil
}

// runCtx runs a blocking client call, returning early if ctx ends. Errors
// are classified (op and topic name what was done).
func runCtx(ctx context.Context, op, topic string, f func() error) error {
	return runBounded(ctx, 0, op, topic, f)
}

// runBounded is runCtx that also returns after timeout (when positive)
// with a retryable ErrUnavailable: the client bounds some calls by its
// operation timeout, but waits up to 30 s for a connection that accepts
// and never answers. The call goes on in the background until the client
// gives up or closes.
func runBounded(ctx context.Context, timeout time.Duration, op, topic string, f func() error) error {
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return classify(op, topic, err)
	case <-ctx.Done():
		return fmt.Errorf("pulsar: %s %s: %w", op, topic, ctx.Err())
	case <-expired:
		return fmt.Errorf("%w: pulsar: %s %s: no answer within the operation timeout %v", walimpls.ErrUnavailable, op, topic, timeout)
	}
}

// serviceAddrs are the host:port pairs of a service URL
// ("pulsar://h1:6650,h2:6650"), with the default port where none is given.
func serviceAddrs(url string) []string {
	rest, port := strings.TrimPrefix(url, "pulsar://"), "6650"
	if strings.HasPrefix(url, "pulsar+ssl://") {
		rest, port = strings.TrimPrefix(url, "pulsar+ssl://"), "6651"
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	var addrs []string
	for _, h := range strings.Split(rest, ",") {
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), port)
		}
		addrs = append(addrs, h)
	}
	return addrs
}

// probe dials the service URL until one of its hosts accepts a TCP
// connection, each dial bounded by the connection timeout, and reports why
// none did. pulsar-client-go retries a refused connection until the
// operation timeout and then reports "context deadline exceeded", so an
// opener probes until its first Open succeeds: a wrong URL fails with the
// address and the dialler's reason ("connection refused") within the
// connection timeout.
func (o *opener) probe(ctx context.Context) error {
	if o.reached.Load() {
		return nil
	}
	d := net.Dialer{Timeout: o.cfg.connectionTimeout}
	var errs []error
	for _, addr := range serviceAddrs(o.cfg.url) {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("%w: pulsar: cannot reach the broker at %s: %w", walimpls.ErrUnavailable, o.cfg.url, errors.Join(errs...))
}
