package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqwal/mqwal/walimpls"
)

// A WAL topic keeps every record until Truncate deletes it. Kafka's
// defaults do not: retention.ms is 7 days and a compacted topic drops
// records too. So the driver creates its topics with retention off, and
// Open checks a topic it did not create (DescribeConfigs reports the
// effective values, broker defaults included) and refuses one whose broker
// would delete records that were never truncated.
const (
	cfgRetentionMs    = "retention.ms"
	cfgRetentionBytes = "retention.bytes"
	cfgCleanupPolicy  = "cleanup.policy"
)

// walTopicConfigs are set on every topic the driver creates.
var walTopicConfigs = []kafkago.ConfigEntry{
	{ConfigName: cfgRetentionMs, ConfigValue: "-1"},
	{ConfigName: cfgRetentionBytes, ConfigValue: "-1"},
	{ConfigName: cfgCleanupPolicy, ConfigValue: "delete"},
}

// retentionProblem names what in a topic's effective configs lets the
// broker delete records nobody truncated ("" if nothing): a finite
// retention.ms or retention.bytes, or compaction. A missing value counts as
// a problem, since the broker's default then applies unseen.
func retentionProblem(cfgs map[string]string) string {
	var problems []string
	for _, name := range []string{cfgRetentionMs, cfgRetentionBytes} {
		v, ok := cfgs[name]
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch {
		case !ok:
			problems = append(problems, name+" is not reported")
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s=%q is not a number", name, v))
		case n >= 0:
			problems = append(problems, fmt.Sprintf("%s=%d", name, n))
		}
	}
	policy, ok := cfgs[cfgCleanupPolicy]
	switch {
	case !ok:
		problems = append(problems, cfgCleanupPolicy+" is not reported")
	case strings.Contains(policy, "compact"):
		problems = append(problems, fmt.Sprintf("%s=%s", cfgCleanupPolicy, policy))
	}
	return strings.Join(problems, ", ")
}

// checkRetention refuses topic (ErrInvalidArgument) when its effective
// configs let the broker delete records that were never truncated.
func (c *client) checkRetention(ctx context.Context, topic, channel string) error {
	var cfgs map[string]string
	err := c.idempotent(ctx, topic, func() (err error) {
		cfgs, err = c.describeConfigs(ctx, c.anyBroker(), int8(kafkago.ResourceTypeTopic), topic, cfgRetentionMs, cfgRetentionBytes, cfgCleanupPolicy)
		return err
	})
	switch {
	case errors.Is(err, kafkago.TopicAuthorizationFailed) || errors.Is(err, kafkago.ClusterAuthorizationFailed):
		return fmt.Errorf("%w: kafka topic %q of channel %q: cannot read its retention settings (%w); grant DescribeConfigs on the topic, or set Config.AllowRetention (config key kafka.allow_retention) to open it unchecked",
			walimpls.ErrInvalidArgument, topic, channel, err)
	case err != nil:
		return fmt.Errorf("%w: kafka: describe configs of topic %s: %w", walimpls.ErrUnavailable, topic, err)
	}
	if p := retentionProblem(cfgs); p != "" {
		return fmt.Errorf("%w: kafka topic %q of channel %q: %s: the broker would delete records that were never truncated; "+
			"set retention.ms=-1, retention.bytes=-1 and cleanup.policy=delete on the topic, or set Config.AllowRetention (config key kafka.allow_retention) to accept that loss",
			walimpls.ErrInvalidArgument, topic, channel, p)
	}
	return nil
}
