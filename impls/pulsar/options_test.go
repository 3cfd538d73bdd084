package pulsar_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/walimpls"
)

func TestBuildValidatesOptions(t *testing.T) {
	for name, opt := range map[string]pulsar.Option{
		"url scheme":        pulsar.WithURL("http://x"),
		"empty url":         pulsar.WithURL(""),
		"tenant":            pulsar.WithTenant("a/b"),
		"namespace":         pulsar.WithNamespace(""),
		"prefix":            pulsar.WithTopicPrefix("x/"),
		"operation timeout": pulsar.WithOperationTimeout(0),
		"max message size":  pulsar.WithMaxMessageSize(-1),
		"in flight":         pulsar.WithMaxInFlight(0),
		"subscription":      pulsar.WithTruncateSubscription(""),
		"admin url scheme":  pulsar.WithAdminURL("pulsar://h:6650"),
		"admin url host":    pulsar.WithAdminURL("http://"),
	} {
		if _, err := pulsar.NewBuilder(opt).Build(); !errors.Is(err, walimpls.ErrInvalidArgument) {
			t.Errorf("%s: Build = %v, want ErrInvalidArgument", name, err)
		}
	}
}

// The driver never reads the environment: the explicit URL wins whatever
// MQWAL_PULSAR_URL says (that variable is config's).
func TestEnvironmentIsIgnored(t *testing.T) {
	b := startBroker(t)
	t.Setenv("MQWAL_PULSAR_URL", "pulsar://127.0.0.1:1")
	o, err := pulsar.NewBuilder(pulsar.WithURL(b.URL())).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "env"}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mustAppend(t, w, "explicit url", nil)
	if n := b.NumMessages(topicPrefix + "env"); n != 2 { // the claim and the message
		t.Fatalf("broker of WithURL holds %d messages", n)
	}
}

func TestTopicPrefixTenantNamespace(t *testing.T) {
	b := startBroker(t)
	w := openWAL(t, b, "ch", walimpls.ReadWrite, pulsar.WithTenant("t1"), pulsar.WithNamespace("ns1"), pulsar.WithTopicPrefix("app-"))
	mustAppend(t, w, "x", nil)
	if n := b.NumMessages("persistent://t1/ns1/app-ch"); n != 2 { // the claim and the message
		t.Fatalf("topic persistent://t1/ns1/app-ch holds %d messages", n)
	}
}
