package pulsar_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/walimpls"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// openErr opens ch with term 1 in mode and returns Open's error.
func openErr(t *testing.T, b *pulsartest.Broker, ch string, mode walimpls.AccessMode, opts ...pulsar.Option) error {
	t.Helper()
	_, err := openChannel(t, b, ch, 1, mode, opts...)
	return err
}

func setPolicies(t *testing.T, b *pulsartest.Broker, scope string, p pulsartest.Policies) {
	t.Helper()
	if err := b.SetPolicies(scope, p); err != nil {
		t.Fatal(err)
	}
}

// Policies that make the broker delete messages nobody truncated are
// refused at ReadWrite Open, wherever they are set.
func TestOpenRefusesExpiringPolicies(t *testing.T) {
	evict := map[pulsartest.BacklogQuotaType]pulsartest.BacklogQuota{
		pulsartest.DestinationStorage: {LimitSize: 10 << 20, Policy: pulsartest.ConsumerBacklogEviction},
	}
	age := map[pulsartest.BacklogQuotaType]pulsartest.BacklogQuota{
		pulsartest.MessageAge: {LimitTime: 3600, Policy: pulsartest.ConsumerBacklogEviction},
	}
	for _, c := range []struct {
		name    string
		scope   string // "" = the namespace, else a channel's topic
		policy  pulsartest.Policies
		want    string
		options []pulsartest.Option
	}{
		{name: "namespace TTL", policy: pulsartest.Policies{MessageTTLSeconds: new(300)}, want: "message TTL of 300 s"},
		{name: "topic TTL", scope: "ch", policy: pulsartest.Policies{MessageTTLSeconds: new(60)}, want: "message TTL of 60 s"},
		{name: "size eviction", policy: pulsartest.Policies{BacklogQuotas: evict}, want: "backlog quota destination_storage of 10485760 with policy consumer_backlog_eviction"},
		{name: "age eviction", scope: "ch", policy: pulsartest.Policies{BacklogQuotas: age}, want: "backlog quota message_age of 3600 with policy consumer_backlog_eviction"},
		{name: "subscription expiration", policy: pulsartest.Policies{SubscriptionExpirationMinutes: new(30)}, want: "subscription expiration of 30 min"},
		{name: "namespace TTL, topic policies off", policy: pulsartest.Policies{MessageTTLSeconds: new(5)}, want: "message TTL of 5 s",
			options: []pulsartest.Option{pulsartest.WithTopicPolicies(false)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := startBroker(t, c.options...)
			scope := "public/default"
			if c.scope != "" {
				scope = topicPrefix + c.scope
			}
			setPolicies(t, b, scope, c.policy)
			err := openErr(t, b, "ch", walimpls.ReadWrite, pulsar.WithAdminURL(b.AdminURL()))
			if !errors.Is(err, walimpls.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open: %v, want ErrInvalidArgument naming %q", err, c.want)
			}
			if n := b.NumMessages(topicPrefix + "ch"); n != 0 {
				t.Fatalf("a refused Open stored %d messages, want none (no claim)", n)
			}
			if err := openErr(t, b, "ch", walimpls.ReadOnly, pulsar.WithAdminURL(b.AdminURL())); err != nil {
				t.Fatalf("ReadOnly Open: %v (nothing a reader does is at risk)", err)
			}
			var logs logBuffer
			if err := openErr(t, b, "ch", walimpls.ReadWrite, pulsar.WithAdminURL(b.AdminURL()),
				pulsar.WithAllowExpiringPolicies(true), pulsar.WithLogger(logs.logger())); err != nil {
				t.Fatalf("Open with WithAllowExpiringPolicies: %v", err)
			}
			if !strings.Contains(logs.String(), c.want) {
				t.Fatalf("allowed Open logged %q, want a warning naming %q", logs.String(), c.want)
			}
		})
	}
}

func TestOpenAcceptsSafePolicies(t *testing.T) {
	b := startBroker(t)
	setPolicies(t, b, "public/default", pulsartest.Policies{
		Retention:     &pulsartest.Retention{TimeInMinutes: 60, SizeInMB: 100},
		BacklogQuotas: map[pulsartest.BacklogQuotaType]pulsartest.BacklogQuota{pulsartest.DestinationStorage: {LimitSize: 1 << 30, Policy: pulsartest.ProducerRequestHold}},
	})
	var logs logBuffer
	if err := openErr(t, b, "ch", walimpls.ReadWrite, pulsar.WithAdminURL(b.AdminURL()), pulsar.WithLogger(logs.logger())); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !strings.Contains(logs.String(), "producer_request_hold holds or fails appends") {
		t.Fatalf("a quota that holds producers logged %q, want a warning", logs.String())
	}
}

// Without an admin URL nothing is checked, and the opener says so once.
func TestOpenWithoutAdminURLWarnsOnce(t *testing.T) {
	b := startBroker(t)
	setPolicies(t, b, "public/default", pulsartest.Policies{MessageTTLSeconds: new(300)})
	var logs logBuffer
	o, err := builder(b, pulsar.WithLogger(logs.logger())).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for _, ch := range []string{"a", "b"} {
		w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}})
		if err != nil {
			t.Fatalf("Open without admin URL: %v", err)
		}
		defer w.Close()
	}
	if n := strings.Count(logs.String(), "no admin URL configured"); n != 1 {
		t.Fatalf("%d warnings about the unchecked policies, want 1:\n%s", n, logs.String())
	}
}

func TestOpenWithUnreachableAdmin(t *testing.T) {
	b := startBroker(t)
	err := openErr(t, b, "ch", walimpls.ReadWrite, pulsar.WithAdminURL("http://127.0.0.1:1"), pulsar.WithOperationTimeout(time.Second))
	if !errors.Is(err, walimpls.ErrUnavailable) || !walimpls.IsRetryable(err) {
		t.Fatalf("Open with the admin endpoint away: %v, want retryable ErrUnavailable", err)
	}
}

// What the check prevents: with a TTL accepted, messages that were never
// truncated are gone once they expire.
func TestExpiringPolicyLosesUntruncatedData(t *testing.T) {
	clock := pulsartest.NewManualClock(time.Now())
	b := startBroker(t, pulsartest.WithClock(clock.Now))
	setPolicies(t, b, "public/default", pulsartest.Policies{MessageTTLSeconds: new(60)})
	w := openWAL(t, b, "ttl", walimpls.ReadWrite, pulsar.WithAdminURL(b.AdminURL()), pulsar.WithAllowExpiringPolicies(true))
	first := mustAppend(t, w, "m0", nil)
	mustAppend(t, w, "m1", nil)
	clock.Advance(time.Hour)
	b.Housekeep()
	b.RollLedgers()
	if n := b.NumMessages(topicPrefix + "ttl"); n != 0 {
		t.Fatalf("broker still holds %d messages: the TTL did not apply", n)
	}
	mustAppend(t, w, "m2", nil) // a scanner notices the gap when something follows it
	if _, err := readNErr(w, walimpls.StartFrom(first)); !errors.Is(err, walimpls.ErrOutOfRange) {
		t.Fatalf("reading the expired, never truncated messages: %v, want ErrOutOfRange", err)
	}
}
