package integration

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

func TestEmbeddedRMQ(t *testing.T) {
	clearDriverEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	runHarness(t, loadConfig(t, "backend: rmq\nrmq:\n  path: "+dir+"\n", noEnv))
}

func TestEmbeddedMemory(t *testing.T) {
	runHarness(t, loadConfig(t, "backend: memory\n", noEnv))
}

func TestEmbeddedKafka(t *testing.T) {
	clearDriverEnv(t)
	c, err := kafkatest.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg := loadConfig(t, "backend: kafka\nkafka:\n  brokers: "+yamlList(c.Addrs())+"\n  topic_prefix: it-\n  replication_factor: 1\n", noEnv)
	runHarness(t, cfg, walimplstest.Fault{Name: "restart", Inject: c.Restart})
}
