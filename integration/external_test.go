package integration

import (
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/walimpls/registry"
)

// External mode tests the brokers the environment names, through the same
// config an application would load (so MQWAL_KAFKA_TOPIC_PREFIX,
// MQWAL_PULSAR_TENANT and friends apply too). Unset means skip; set but
// unreachable is a failure, never a skip: someone meant to test that broker.

func TestExternalKafka(t *testing.T) {
	env := config.EnvVar("kafka.brokers")
	brokers := os.Getenv(env)
	if brokers == "" {
		t.Skipf("%s is not set: no external Kafka to test", env)
	}
	for b := range strings.SplitSeq(brokers, ",") {
		mustReach(t, env, brokers, strings.TrimSpace(b))
	}
	cfg, err := config.Load("", config.WithBackend("kafka"))
	if err != nil {
		t.Fatalf("%s=%s: %v", env, brokers, err)
	}
	runHarness(t, cfg, brokerTimeout)
}

func TestExternalPulsar(t *testing.T) {
	env := config.EnvVar("pulsar.url")
	raw := os.Getenv(env)
	if raw == "" {
		t.Skipf("%s is not set: no external Pulsar to test", env)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("%s=%q is not a pulsar://host:port URL: %v", env, raw, err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "6650")
	}
	mustReach(t, env, raw, host)
	if !slices.Contains(registry.Names(), "pulsar") {
		t.Fatalf("%s is set but the pulsar driver is not in this build", env)
	}
	cfg, err := config.Load("", config.WithBackend("pulsar"))
	if err != nil {
		t.Fatalf("%s=%s: %v", env, raw, err)
	}
	runHarness(t, cfg, brokerTimeout)
}

func mustReach(t *testing.T, env, value, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("%s=%s is set, but %s is unreachable: %v (start it with `make up PROFILE=...`, see docker-compose.yml, or unset %s)", env, value, addr, err, env)
	}
	conn.Close()
}
