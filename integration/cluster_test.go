package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// clusterEnv names the brokers of the kafka-cluster compose profile
// (localhost:19092,localhost:29092,localhost:39092 after
// `make up PROFILE=kafka-cluster`). Unset means skip; set but unreachable,
// or set without a Docker engine to stop its brokers with, is a failure.
const (
	clusterEnv     = "MQWAL_IT_KAFKA_CLUSTER"
	clusterProfile = "kafka-cluster"
)

// TestExternalKafkaCluster runs the harness against three Kafka brokers
// (replication factor 3, min.insync.replicas 2) and the history checker
// under two faults the in-process kafkatest runs have too, here on real
// brokers: the partition leaders move (AlterPartitionReassignments and a
// preferred election, as an operator rebalancing would), and the broker
// leading the most partitions is stopped (docker stop) and stays down for
// the rest of the run, the one stopped before starting again first.
func TestExternalKafkaCluster(t *testing.T) {
	raw := os.Getenv(clusterEnv)
	if raw == "" {
		t.Skipf("%s is not set: no Kafka cluster to test (make up PROFILE=%s)", clusterEnv, clusterProfile)
	}
	var brokers []string
	for b := range strings.SplitSeq(raw, ",") {
		b = strings.TrimSpace(b)
		mustReach(t, clusterEnv, raw, b)
		brokers = append(brokers, b)
	}
	f, err := compose()
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := clusterNodes(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := dockerHealth(); err != nil {
		t.Fatalf("%s is set, but no Docker engine answers to stop its brokers with: %v", clusterEnv, err)
	}
	docker, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = docker.Close() })

	prefix := randomPrefix("itc")
	admin := adminClient(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := describe(ctx, admin, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Brokers) != len(nodes) {
		t.Fatalf("%s=%s: metadata lists brokers %v, the %s profile has %d", clusterEnv, raw, st.Brokers, clusterProfile, len(nodes))
	}
	stopper := &brokerStopper{cl: admin, docker: docker, nodes: nodes, topicPrefix: prefix}
	t.Cleanup(func() { stopper.restore(t) })

	clearDriverEnv(t)
	cfg := loadConfig(t, "backend: kafka\nkafka:\n  brokers: "+yamlList(brokers)+"\n  topic_prefix: "+prefix+"\n  replication_factor: 3\n", noEnv)
	runHarness(t, cfg, brokerTimeout,
		walimplstest.Fault{Name: "LeaderMove", Inject: func(ctx context.Context) error {
			if err := moveLeaders(ctx, admin, prefix); err != nil {
				return fmt.Errorf("move leaders: %w", err)
			}
			return nil
		}},
		walimplstest.Fault{Name: "BrokerStopped", Inject: stopper.inject},
	)
}
