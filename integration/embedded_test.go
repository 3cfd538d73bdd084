package integration

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

func TestEmbeddedRMQ(t *testing.T) {
	clearDriverEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	runHarness(t, loadConfig(t, "backend: rmq\nrmq:\n  path: "+dir+"\n", noEnv), inProcessTimeout)
}

func TestEmbeddedMemory(t *testing.T) {
	runHarness(t, loadConfig(t, "backend: memory\n", noEnv), inProcessTimeout)
}

func TestEmbeddedKafka(t *testing.T) {
	clearDriverEnv(t)
	c, err := kafkatest.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg := loadConfig(t, "backend: kafka\nkafka:\n  brokers: "+yamlList(c.Addrs())+"\n  topic_prefix: it-\n  replication_factor: 1\n", noEnv)
	runHarness(t, cfg, inProcessTimeout, walimplstest.Fault{Name: "restart", Inject: c.Restart})
}

// TestEmbeddedPulsar runs without faults: pulsar-client-go v0.19.0 races with
// itself on reconnect, which -race reports; impls/pulsar runs its faults in
// the plain build.
func TestEmbeddedPulsar(t *testing.T) {
	clearDriverEnv(t)
	b, err := pulsartest.Start(pulsartest.WithDeduplication(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	runHarness(t, loadConfig(t, "backend: pulsar\npulsar:\n  url: "+b.URL()+"\n  topic_prefix: it-\n", noEnv), inProcessTimeout)
}
