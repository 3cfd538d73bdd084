package kafka

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// brokerRetention is a cluster whose broker defaults keep at most one byte
// per partition: any topic without its own retention settings loses all
// but nothing at the next ApplyRetention.
func brokerRetention(t *testing.T) *kafkatest.Cluster {
	return startCluster(t, kafkatest.WithBrokerConfigs(map[string]string{"log.retention.bytes": "1"}))
}

// TestCreatedTopicKeepsEverythingUnderBrokerRetention: the topics the
// driver creates set retention off themselves, so broker retention
// defaults never delete records that were not truncated.
func TestCreatedTopicKeepsEverythingUnderBrokerRetention(t *testing.T) {
	c := brokerRetention(t)
	o := newOpener(t, c)
	w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	for _, p := range []string{"a", "b", "c"} {
		mustAppend(t, w, p, nil)
	}
	c.ApplyRetention()
	msgs := readN(t, w, walimpls.DeliverAll(), 3)
	for i, want := range []string{"a", "b", "c"} {
		if got := string(msgs[i].Payload()); got != want {
			t.Fatalf("message %d after the broker applied retention: %q, want %q", i, got, want)
		}
	}
}

// TestOpenRefusesTopicWhoseRetentionDeletes: a topic created elsewhere
// with a finite retention or compaction would silently lose records that
// were never truncated, so Open refuses it and says what to set.
func TestOpenRefusesTopicWhoseRetentionDeletes(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	for _, tc := range []struct {
		name    string
		configs map[string]string
		setting string // "" means Open must succeed
	}{
		{"broker default retention.ms of 7 days", nil, "retention.ms"},
		{"finite retention.bytes", map[string]string{"retention.ms": "-1", "retention.bytes": "1073741824"}, "retention.bytes"},
		{"compacted", map[string]string{"retention.ms": "-1", "cleanup.policy": "compact"}, "cleanup.policy"},
		{"compacted and deleted", map[string]string{"retention.ms": "-1", "cleanup.policy": "compact,delete"}, "cleanup.policy"},
		{"retention off", map[string]string{"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := channelName(t)
			if err := c.Kfake().CreateTopic(ch, 1, tc.configs); err != nil {
				t.Fatal(err)
			}
			for _, mode := range []walimpls.AccessMode{walimpls.ReadWrite, walimpls.ReadOnly} {
				w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1, AccessMode: mode}})
				if tc.setting == "" {
					if err != nil {
						t.Fatalf("Open %v of a topic without retention: %v", mode, err)
					}
					w.Close()
					continue
				}
				if err == nil {
					w.Close()
					t.Fatalf("Open %v of a topic with %s succeeded", mode, tc.setting)
				}
				if !errors.Is(err, walimpls.ErrInvalidArgument) || !strings.Contains(err.Error(), ch) ||
					!strings.Contains(err.Error(), tc.setting) || !strings.Contains(err.Error(), "AllowRetention") {
					t.Fatalf("Open %v: %v, want ErrInvalidArgument naming the topic, %s and the opt-out", mode, err, tc.setting)
				}
			}
		})
	}
}

// TestAllowRetentionOpensAndTheBrokerDeletes: with the opt-out the topic
// opens, and the broker's retention then deletes what was never truncated:
// the danger the check guards against, made visible.
func TestAllowRetentionOpensAndTheBrokerDeletes(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c, WithConfig(Config{Brokers: c.Addrs(), AllowRetention: true}))
	ch := channelName(t)
	if err := c.Kfake().CreateTopic(ch, 1, map[string]string{"retention.bytes": "1"}); err != nil {
		t.Fatal(err)
	}
	w := open(t, o, ch, 1, walimpls.ReadWrite)
	first := mustAppend(t, w, "a", nil)
	mustAppend(t, w, "b", nil)
	c.ApplyRetention()
	_, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: walimpls.StartFrom(helper.NewInt64ID(Name, first))})
	if !errors.Is(err, walimpls.ErrOutOfRange) {
		t.Fatalf("StartFrom(first append) after retention on an opted-out topic: %v, want ErrOutOfRange (the broker deleted it)", err)
	}
}

// TestDisableCreateTopicsChecksRetention: a managed topic is checked too.
func TestDisableCreateTopicsChecksRetention(t *testing.T) {
	c := startCluster(t)
	ch := channelName(t)
	if err := c.Kfake().CreateTopic("managed."+ch, 1, map[string]string{"retention.ms": "86400000"}); err != nil {
		t.Fatal(err)
	}
	o := newOpener(t, c, WithConfig(Config{Brokers: c.Addrs(), DisableCreateTopics: true, TopicPrefix: "managed."}))
	_, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}})
	if !errors.Is(err, walimpls.ErrInvalidArgument) || !strings.Contains(err.Error(), "retention.ms") {
		t.Fatalf("Open of a managed topic with retention.ms: %v, want ErrInvalidArgument naming retention.ms", err)
	}
}

func TestRetentionProblem(t *testing.T) {
	off := map[string]string{cfgRetentionMs: "-1", cfgRetentionBytes: "-1", cfgCleanupPolicy: "delete"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range off {
			m[kk] = vv
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		cfgs map[string]string
		want string
	}{
		{off, ""},
		{with(cfgRetentionMs, "604800000"), "retention.ms=604800000"},
		{with(cfgRetentionMs, "0"), "retention.ms=0"},
		{with(cfgRetentionBytes, "1"), "retention.bytes=1"},
		{with(cfgRetentionBytes, "x"), `retention.bytes="x" is not a number`},
		{with(cfgCleanupPolicy, "compact"), "cleanup.policy=compact"},
		{with(cfgCleanupPolicy, "delete,compact"), "cleanup.policy=delete,compact"},
		{with(cfgRetentionMs, ""), "retention.ms is not reported"},
		{with(cfgCleanupPolicy, ""), "cleanup.policy is not reported"},
	} {
		if got := retentionProblem(tc.cfgs); got != tc.want {
			t.Errorf("retentionProblem(%v) = %q, want %q", tc.cfgs, got, tc.want)
		}
	}
}

// TestRetentionUnreadable: a broker that refuses DescribeConfigs on the
// topic leaves the retention unknown, so Open refuses and says how to fix
// it; a transient answer is asked again.
func TestRetentionUnreadable(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	ch := channelName(t)
	if err := c.Kfake().CreateTopic(ch, 1, map[string]string{"retention.ms": "-1"}); err != nil {
		t.Fatal(err)
	}
	h := c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeConfigs}, Resource: ch, Err: kerr.TopicAuthorizationFailed})
	_, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}})
	h.Remove()
	if !errors.Is(err, walimpls.ErrInvalidArgument) || !strings.Contains(err.Error(), "DescribeConfigs") || !strings.Contains(err.Error(), "AllowRetention") {
		t.Fatalf("Open while DescribeConfigs is denied: %v, want ErrInvalidArgument naming DescribeConfigs and the opt-out", err)
	}
	h = c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeConfigs}, Resource: ch, Err: kerr.UnknownTopicOrPartition})
	open(t, o, ch, 1, walimpls.ReadWrite)
	if h.Hits() != 1 {
		t.Fatalf("the transient DescribeConfigs fault hit %d times, want 1", h.Hits())
	}
}
