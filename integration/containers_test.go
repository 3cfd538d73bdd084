package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
	tcpulsar "github.com/testcontainers/testcontainers-go/modules/pulsar"

	"github.com/mqwal/mqwal/walimpls/registry"
)

// Images of container mode. confluent-local is what the testcontainers Kafka
// module drives (KRaft, single node); docker-compose.yml uses apache/kafka.
const (
	kafkaImage  = "confluentinc/confluent-local:7.5.0"
	pulsarImage = "apachepulsar/pulsar:3.3.2"
)

func TestContainerKafka(t *testing.T) {
	testcontainers.SkipIfProviderIsNotHealthy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kc, err := tckafka.Run(ctx, kafkaImage, tckafka.WithClusterID("mqwal-integration"))
	testcontainers.CleanupContainer(t, kc)
	if err != nil {
		t.Fatalf("start Kafka container: %v", err)
	}
	brokers, err := kc.Brokers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clearDriverEnv(t)
	runHarness(t, loadConfig(t, "backend: kafka\nkafka:\n  brokers: "+yamlList(brokers)+"\n  replication_factor: 1\n", noEnv))
}

func TestContainerPulsar(t *testing.T) {
	if !slices.Contains(registry.Names(), "pulsar") {
		t.Skip("the pulsar driver is not in this build")
	}
	testcontainers.SkipIfProviderIsNotHealthy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pc, err := tcpulsar.Run(ctx, pulsarImage,
		// The driver relies on broker deduplication for duplicate-free resends.
		tcpulsar.WithPulsarEnv("brokerDeduplicationEnabled", "true"),
	)
	testcontainers.CleanupContainer(t, pc)
	if err != nil {
		t.Fatalf("start Pulsar container: %v", err)
	}
	url, err := pc.BrokerURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clearDriverEnv(t)
	runHarness(t, loadConfig(t, "backend: pulsar\npulsar:\n  url: "+url+"\n", noEnv))
}
