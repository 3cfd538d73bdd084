package kafka

import (
	"testing"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
)

// The driver never reads the environment: an explicit option is what it
// uses, whatever MQWAL_KAFKA_BROKERS says (that variable is config's).
func TestEnvironmentIsIgnored(t *testing.T) {
	c := startCluster(t)
	t.Setenv("MQWAL_KAFKA_BROKERS", "127.0.0.1:1")
	o, err := NewBuilder(WithBrokers(c.Addrs()...)).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	mustAppend(t, w, "explicit brokers", nil)
}

// The registered builder reaches DefaultBroker, with nothing from the
// environment.
func TestRegisteredBuilderDefaultBroker(t *testing.T) {
	b, ok := registry.MustGetBuilder(Name).(*Builder)
	if !ok || len(b.cfg.Brokers) != 1 || b.cfg.Brokers[0] != DefaultBroker {
		t.Fatalf("registered builder %#v, want brokers [%s]", b, DefaultBroker)
	}
}
