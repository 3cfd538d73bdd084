package pulsar

import (
	"context"
	"errors"
	"fmt"
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
			return fmt.Errorf("%w: pulsar channel %q: %w: topic %s does not exist, and a ReadOnly open never creates one",
				walimpls.ErrInvalidArgument, ch.Name, errNoChannel, topic)
		}
	}
	var parts []string
	err := runCtx(ctx, "look up the partitions of", topic, func() (err error) { parts, err = o.client.TopicPartitions(topic); return err })
	if err != nil {
		return err
	}
	if n := len(parts); n > 1 || (n == 1 && parts[0] != topic) {
		return fmt.Errorf("%w: pulsar channel %q: topic %s is partitioned (%d partitions); a channel is one non-partitioned topic, and reading one partition would be a partial read",
			walimpls.ErrInvalidArgument, ch.Name, topic, n)
	}
	return nil
}

// errNoChannel says what a ReadOnly open of a missing channel found.
var errNoChannel = errors.New("no such channel")

// topicExists reports whether topic exists, without creating it. Every
// call of pulsar-client-go v0.19.0 that names a topic (producer, reader,
// consumer, even PARTITIONED_METADATA on some brokers) creates it where
// auto-creation is allowed, the default; a pattern subscription is the one
// that lists the namespace's topics first (GET_TOPICS_OF_NAMESPACE) and
// subscribes only to those, with force_topic_creation=false. So: a
// non-durable pattern subscription matching the topic's name alone, which
// holds a topic iff it exists. It costs the list of the namespace's topics.
func (o *opener) topicExists(ctx context.Context, topic string) (bool, error) {
	local := strings.TrimPrefix(topic, "persistent://"+o.cfg.tenant+"/"+o.cfg.namespace+"/")
	pattern := "persistent://" + o.cfg.tenant + "/" + o.cfg.namespace + "/" + regexp.QuoteMeta(local) + "$"
	var n int
	err := runCtx(ctx, "look up", topic, func() error {
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
		n = len(ids)
		return err
	})
	return n > 0, err
}

// runCtx runs a blocking client call, returning early if ctx ends; the call
// itself is bounded by the client's operation timeout. Errors are
// classified (op and topic name what was done).
func runCtx(ctx context.Context, op, topic string, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return classify(op, topic, err)
	case <-ctx.Done():
		return fmt.Errorf("pulsar: %s %s: %w", op, topic, ctx.Err())
	}
}
