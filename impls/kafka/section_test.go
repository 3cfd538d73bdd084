package kafka_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/config/configtest"
	"github.com/mqwal/mqwal/impls/kafka"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/section"
)

func kafkaSection(c *config.Config) *kafka.Section { return c.Section("kafka").(*kafka.Section) }

func TestSectionFileValues(t *testing.T) {
	c := configtest.Load(t, `
backend: kafka
kafka:
  brokers: [a:9092, "b:9093"]
  topic_prefix: wal-
  create_topics: false
  allow_retention: true
  producer_id_expiration: 2h
  max_queued_appends: 100
  max_queued_bytes: 1048576
  replication_factor: 3
  client_id: svc
  max_message_bytes: 2000000
  timeouts: {dial: 1s, request: 2s, write: 3s}
  sasl: {mechanism: SCRAM-SHA-512, username: u, password: p}
`)
	k := kafkaSection(c)
	if strings.Join(k.Brokers, ",") != "a:9092,b:9093" || k.TopicPrefix != "wal-" || k.CreateTopics || !k.AllowRetention ||
		k.ReplicationFactor == nil || *k.ReplicationFactor != 3 || k.ClientID != "svc" || k.MaxMessageBytes != 2000000 ||
		k.Timeouts != (kafka.SectionTimeouts{Dial: time.Second, Request: 2 * time.Second, Write: 3 * time.Second}) ||
		k.SASL != (kafka.SectionSASL{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}) ||
		k.ProducerIDExpiration != 2*time.Hour || k.MaxQueuedAppends != 100 || k.MaxQueuedBytes != 1<<20 {
		t.Fatalf("kafka: %+v", k)
	}
	if got := c.Source("kafka.client_id"); !strings.HasSuffix(got, ":12") {
		t.Fatalf("Source(kafka.client_id) = %q, want line 12", got)
	}
	b, err := c.DriverBuilder()
	if err != nil || b.Name() != "kafka" {
		t.Fatalf("DriverBuilder = %v, %v", b, err)
	}
	if d := k.Describe(); d != "brokers [a:9092 b:9093]" {
		t.Fatalf("Describe = %q", d)
	}
}

func TestSectionBrokersAsString(t *testing.T) {
	c := configtest.Load(t, "kafka:\n  brokers: 'a:1, b:2'\nbackend: kafka\n")
	if strings.Join(kafkaSection(c).Brokers, "|") != "a:1|b:2" {
		t.Fatalf("brokers = %q", kafkaSection(c).Brokers)
	}
}

func TestSectionEnvironment(t *testing.T) {
	c := configtest.Load(t, "backend: kafka\nkafka:\n  brokers: [file:9092]\n",
		"MQWAL_KAFKA_BROKERS", "e1:1,e2:2",
		"MQWAL_KAFKA_REPLICATION_FACTOR", "2",
		"MQWAL_KAFKA_CREATE_TOPICS", "false",
		"MQWAL_KAFKA_TIMEOUTS_DIAL", "750ms",
		"MQWAL_KAFKA_SASL_MECHANISM", "PLAIN",
		"MQWAL_KAFKA_SASL_USERNAME", "u",
		"MQWAL_KAFKA_SASL_PASSWORD", "secret",
	)
	k := kafkaSection(c)
	if strings.Join(k.Brokers, ",") != "e1:1,e2:2" || *k.ReplicationFactor != 2 || k.CreateTopics ||
		k.Timeouts.Dial != 750*time.Millisecond || k.SASL.Password != "secret" {
		t.Fatalf("kafka %+v", k)
	}
	if c.Source("kafka.brokers") != "MQWAL_KAFKA_BROKERS" {
		t.Fatalf("Source(kafka.brokers) = %q", c.Source("kafka.brokers"))
	}
}

func TestSectionKeys(t *testing.T) {
	have := map[string]bool{}
	for _, k := range config.Keys() {
		have[k] = true
	}
	for _, k := range []string{"kafka.brokers", "kafka.sasl.password", "kafka.replication_factor", "kafka.tls.ca_file", "kafka.timeouts.write"} {
		if !have[k] {
			t.Errorf("config.Keys() lacks %s", k)
		}
	}
}

func TestSectionErrors(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "c.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	cases := []configtest.Case{
		{Name: "unknown deep key", YAML: "kafka:\n  sasl:\n    user: x\n", Want: "kafka.sasl.user: unknown key"},
		{Name: "bool wrong type", YAML: "kafka:\n  create_topics: maybe\n", Want: `kafka.create_topics: must be true or false, got "maybe"`},
		{Name: "duration wrong type", YAML: "kafka:\n  timeouts:\n    dial: 5\n", Want: `kafka.timeouts.dial: must be a duration such as 500ms or 10s, got "5"`},
		{Name: "list wrong type", YAML: "kafka:\n  brokers: {a: b}\n", Want: "kafka.brokers: must be a list of strings, got a mapping"},
		{Name: "replication 0", YAML: "kafka:\n  replication_factor: 0\n", Want: "kafka.replication_factor: must be >= 1, got 0"},
		{Name: "replication 0 env", Env: []string{"MQWAL_KAFKA_REPLICATION_FACTOR", "0"}, Want: "MQWAL_KAFKA_REPLICATION_FACTOR (kafka.replication_factor): must be >= 1, got 0"},
		{Name: "replication huge", YAML: "kafka:\n  replication_factor: 40000\n", Want: "kafka.replication_factor: must be <= 32767"},
		{Name: "replication env not int", Env: []string{"MQWAL_KAFKA_REPLICATION_FACTOR", "three"}, Want: `MQWAL_KAFKA_REPLICATION_FACTOR (kafka.replication_factor): must be an integer, got "three"`},
		{Name: "broker no port", YAML: "kafka:\n  brokers: [localhost]\n", Want: `kafka.brokers: broker 1 ("localhost"): must be host:port`},
		{Name: "broker bad port", Env: []string{"MQWAL_KAFKA_BROKERS", "a:1,b:99999"}, Want: `MQWAL_KAFKA_BROKERS (kafka.brokers): broker 2 ("b:99999"): port must be 1..65535`},
		{Name: "broker no host", YAML: "kafka:\n  brokers: [':9092']\n", Want: "host must not be empty"},
		{Name: "brokers required", YAML: "kafka:\n  topic_prefix: x\n", Backend: "kafka", Want: "kafka.brokers: at least one host:port is required for backend kafka (or set MQWAL_KAFKA_BROKERS)"},
		{Name: "prefix chars", YAML: "kafka:\n  topic_prefix: 'a/b'\n", Want: `kafka.topic_prefix: may hold only letters, digits, '.', '_' and '-', got "/" in "a/b"`},
		{Name: "prefix long", YAML: "kafka:\n  topic_prefix: " + strings.Repeat("p", 50) + "\n", Want: "kafka.topic_prefix: must be at most 49 bytes"},
		{Name: "empty client id", YAML: "kafka:\n  client_id: ''\n", Want: "kafka.client_id: must not be empty"},
		{Name: "negative max bytes", YAML: "kafka:\n  max_message_bytes: -1\n", Want: "kafka.max_message_bytes: must be >= 0"},
		{Name: "negative expiration", YAML: "kafka:\n  producer_id_expiration: -1s\n", Want: "kafka.producer_id_expiration: must be >= 0 (0 reads it from the brokers), got -1s"},
		{Name: "negative queued appends", YAML: "kafka:\n  max_queued_appends: -1\n", Want: "kafka.max_queued_appends: must be >= 0"},
		{Name: "negative queued bytes", Env: []string{"MQWAL_KAFKA_MAX_QUEUED_BYTES", "-5"}, Want: "MQWAL_KAFKA_MAX_QUEUED_BYTES (kafka.max_queued_bytes): must be >= 0"},
		{Name: "allow retention not bool", YAML: "kafka:\n  allow_retention: sometimes\n", Want: `kafka.allow_retention: must be true or false, got "sometimes"`},
		{Name: "zero timeout", YAML: "kafka:\n  timeouts:\n    request: 0s\n", Want: "kafka.timeouts.request: must be > 0, got 0s"},
		{Name: "bad sasl", YAML: "kafka:\n  sasl:\n    mechanism: GSSAPI\n", Want: `kafka.sasl.mechanism: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got "GSSAPI"`},
		{Name: "sasl no user", YAML: "kafka:\n  sasl:\n    mechanism: PLAIN\n", Want: "kafka.sasl.username: must be set with sasl.mechanism PLAIN"},
		{Name: "sasl user no mechanism", Env: []string{"MQWAL_KAFKA_SASL_PASSWORD", "pw"}, Want: "kafka.sasl.mechanism: must be set when sasl.username or sasl.password is"},
		{Name: "tls cert without key", YAML: "kafka:\n  tls:\n    enabled: true\n    cert_file: " + cert + "\n", Want: "kafka.tls.cert_file: cert_file and key_file go together"},
		{Name: "tls missing ca", YAML: "kafka:\n  tls:\n    enabled: true\n    ca_file: " + missing + "\n", Want: "kafka.tls.ca_file: cannot read " + missing + ": no such file or directory"},
		{Name: "tls not enabled", YAML: "kafka:\n  tls:\n    ca_file: " + cert + "\n", Want: "kafka.tls.enabled: is false but other tls keys are set"},
		{Name: "env bool", Env: []string{"MQWAL_KAFKA_CREATE_TOPICS", "nope"}, Want: `MQWAL_KAFKA_CREATE_TOPICS (kafka.create_topics): must be true or false, got "nope"`},
	}
	for i := range cases {
		cases[i].Backend = "kafka" // the only backend of this test binary
	}
	configtest.Refused(t, cases)
}

// A program that links only kafka must select it: the default backend is
// rmq, which is not compiled in.
func TestSectionDefaultBackendNotCompiledIn(t *testing.T) {
	_, err := config.Load("", configtest.Env("MQWAL_KAFKA_BROKERS", "a:9092"))
	configtest.Check(t, err, `config: backend: no backend is selected and the default, rmq, is not registered: select one of kafka (backend, MQWAL_BACKEND), or import _ "github.com/mqwal/mqwal/impls/rmq"`, walimpls.ErrUnknownBackend)
}

// The section's builder is the driver's, with the file's settings; building
// it does no I/O.
func TestSectionBuilder(t *testing.T) {
	c := configtest.Load(t, "backend: kafka\nkafka:\n  brokers: [127.0.0.1:1]\n  replication_factor: 1\n  tls: {enabled: true, insecure_skip_verify: true}\n")
	b, err := c.DriverBuilder()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(*kafka.Builder); !ok || b.Name() != "kafka" {
		t.Fatalf("builder %T named %q", b, b.Name())
	}
	var _ section.Describer = kafka.DefaultSection()
}
