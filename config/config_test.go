package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/impls/rmq"
	"github.com/mqwal/mqwal/walimpls"
)

// env returns a lookup over vars only, so tests never see the process's.
func env(vars ...string) config.LoadOption {
	m := map[string]string{}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	return config.WithEnv(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mqwal.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNoConfigIsRMQInDefaultDir(t *testing.T) {
	c, err := config.Load("", env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend != "rmq" || c.RMQ.Path != "./mqwal-data" || c.RMQ.Sync != "sync" {
		t.Fatalf("default = %q %q %q, want rmq ./mqwal-data sync", c.Backend, c.RMQ.Path, c.RMQ.Sync)
	}
	b, err := c.DriverBuilder()
	if err != nil {
		t.Fatal(err)
	}
	rb, ok := b.(*rmq.Builder)
	if !ok {
		t.Fatalf("driver builder is %T, want *rmq.Builder", b)
	}
	if rb.Path() != "./mqwal-data" {
		t.Fatalf("rmq path = %q", rb.Path())
	}
	ob, err := c.OpenerBuilder()
	if err != nil || ob.Name() != "rmq" {
		t.Fatalf("OpenerBuilder = %v, %v", ob, err)
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	for _, body := range []string{"", "# only a comment\n", "---\n"} {
		c, err := config.Load(writeFile(t, body), env())
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if c.Backend != "rmq" || c.RMQ.Path != rmq.DefaultPath {
			t.Fatalf("%q: got %q %q", body, c.Backend, c.RMQ.Path)
		}
	}
}

func TestFileValues(t *testing.T) {
	p := writeFile(t, `
backend: memory
rmq:
  path: /var/lib/wal
  sync: group
  group_commit_window: 250us
  max_message_size: 1024
memory:
  max_message_size: 2048
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
  timeouts: {dial: 1s, request: 2s, write: 3s}
  sasl: {mechanism: SCRAM-SHA-512, username: u, password: p}
pulsar:
  url: pulsar://p:6650
  tenant: t
  namespace: ns
  topic_prefix: x-
  auth: {token: tok}
  max_message_size: 1048576
  max_in_flight: 10
  truncate_subscription: trunc
  admin_url: https://p:8443
  allow_expiring_policies: true
  timeouts: {connection: 4s, operation: 5s}
`)
	c, err := config.Load(p, env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend != "memory" || c.RMQ.Path != "/var/lib/wal" || c.RMQ.Sync != "group" ||
		c.RMQ.GroupCommitWindow != 250*time.Microsecond || c.RMQ.MaxMessageSize != 1024 || c.Memory.MaxMessageSize != 2048 {
		t.Fatalf("rmq/memory: %+v %+v", c.RMQ, c.Memory)
	}
	k := c.Kafka
	if strings.Join(k.Brokers, ",") != "a:9092,b:9093" || k.TopicPrefix != "wal-" || k.CreateTopics || !k.AllowRetention ||
		k.ReplicationFactor == nil || *k.ReplicationFactor != 3 || k.ClientID != "svc" ||
		k.Timeouts != (config.KafkaTimeouts{Dial: time.Second, Request: 2 * time.Second, Write: 3 * time.Second}) ||
		k.SASL != (config.KafkaSASL{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}) {
		t.Fatalf("kafka: %+v", k)
	}
	pu := c.Pulsar
	if pu.URL != "pulsar://p:6650" || pu.Tenant != "t" || pu.Namespace != "ns" || pu.TopicPrefix != "x-" || pu.Auth.Token != "tok" ||
		pu.MaxMessageSize != 1<<20 || pu.MaxInFlight != 10 || pu.TruncateSubscription != "trunc" ||
		pu.AdminURL != "https://p:8443" || !pu.AllowExpiringPolicies ||
		pu.Timeouts != (config.PulsarTimeouts{Connection: 4 * time.Second, Operation: 5 * time.Second}) {
		t.Fatalf("pulsar: %+v", pu)
	}
	if k.ProducerIDExpiration != 2*time.Hour || k.MaxQueuedAppends != 100 || k.MaxQueuedBytes != 1<<20 {
		t.Fatalf("kafka producer_id_expiration/max_queued_*: %+v", k)
	}
	if got := c.Source("kafka.client_id"); got != p+":19" {
		t.Fatalf("Source(kafka.client_id) = %q, want %s:19", got, p)
	}
	b, err := c.DriverBuilder()
	if err != nil || b.Name() != "memory" {
		t.Fatalf("DriverBuilder = %v, %v", b, err)
	}
}

func TestBrokersAsString(t *testing.T) {
	c, err := config.Parse("inline", []byte("kafka:\n  brokers: 'a:1, b:2'\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Kafka.Brokers, "|") != "a:1|b:2" {
		t.Fatalf("brokers = %q", c.Kafka.Brokers)
	}
}

func TestEnvPrecedence(t *testing.T) {
	p := writeFile(t, "backend: memory\nrmq:\n  path: /from/file\n  sync: group\nkafka:\n  brokers: [file:9092]\n")
	c, err := config.Load(p, env(
		"MQWAL_BACKEND", "rmq",
		"MQWAL_RMQ_PATH", "/from/env",
		"MQWAL_RMQ_SYNC", "", // empty counts as unset: the file's value stays
		"MQWAL_KAFKA_BROKERS", "e1:1,e2:2",
		"MQWAL_KAFKA_REPLICATION_FACTOR", "2",
		"MQWAL_KAFKA_CREATE_TOPICS", "false",
		"MQWAL_KAFKA_TIMEOUTS_DIAL", "750ms",
		"MQWAL_PULSAR_URL", "pulsar://env:6650",
	))
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend != "rmq" || c.RMQ.Path != "/from/env" || c.RMQ.Sync != "group" {
		t.Fatalf("got backend %q path %q sync %q", c.Backend, c.RMQ.Path, c.RMQ.Sync)
	}
	if strings.Join(c.Kafka.Brokers, ",") != "e1:1,e2:2" || *c.Kafka.ReplicationFactor != 2 || c.Kafka.CreateTopics ||
		c.Kafka.Timeouts.Dial != 750*time.Millisecond || c.Pulsar.URL != "pulsar://env:6650" {
		t.Fatalf("kafka %+v pulsar %q", c.Kafka, c.Pulsar.URL)
	}
	if c.Source("rmq.path") != "MQWAL_RMQ_PATH" || c.Source("rmq.sync") != p+":4" {
		t.Fatalf("sources: %q %q", c.Source("rmq.path"), c.Source("rmq.sync"))
	}
	// --backend beats the environment.
	c, err = config.Load(p, env("MQWAL_BACKEND", "rmq"), config.WithBackend("memory"))
	if err != nil || c.Backend != "memory" {
		t.Fatalf("WithBackend: %v %v", c, err)
	}
}

func TestProcessEnvironmentIsRead(t *testing.T) {
	t.Setenv("MQWAL_BACKEND", "memory")
	t.Setenv("MQWAL_RMQ_PATH", "/x")
	c, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend != "memory" || c.RMQ.Path != "/x" {
		t.Fatalf("got %q %q", c.Backend, c.RMQ.Path)
	}
}

func TestKeysAndEnvVars(t *testing.T) {
	keys := config.Keys()
	want := map[string]string{
		"backend":                        "MQWAL_BACKEND",
		"rmq.path":                       "MQWAL_RMQ_PATH",
		"rmq.sync":                       "MQWAL_RMQ_SYNC",
		"kafka.brokers":                  "MQWAL_KAFKA_BROKERS",
		"kafka.sasl.password":            "MQWAL_KAFKA_SASL_PASSWORD",
		"pulsar.url":                     "MQWAL_PULSAR_URL",
		"pulsar.auth.token":              "MQWAL_PULSAR_AUTH_TOKEN",
		"pulsar.admin_url":               "MQWAL_PULSAR_ADMIN_URL",
		"pulsar.allow_expiring_policies": "MQWAL_PULSAR_ALLOW_EXPIRING_POLICIES",
		"kafka.replication_factor":       "MQWAL_KAFKA_REPLICATION_FACTOR",
	}
	have := map[string]bool{}
	for _, k := range keys {
		have[k] = true
	}
	for k, e := range want {
		if !have[k] {
			t.Errorf("Keys() lacks %s", k)
		}
		if got := config.EnvVar(k); got != e {
			t.Errorf("EnvVar(%s) = %s, want %s", k, got, e)
		}
	}
}

func TestValidationErrors(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "c.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name      string
		yaml      string
		env       []string
		backend   string
		want      string // the whole error after "config: <file>:<line>: " or the env prefix
		unknown   bool   // wraps ErrUnknownBackend instead of ErrInvalidArgument
		unknownOK bool   // the backend may not be registered yet in this build
	}{
		{name: "unknown backend", yaml: "backend: nosuch\n", want: `backend: unknown backend "nosuch" (registered: `, unknown: true},
		{name: "unknown backend from env", env: []string{"MQWAL_BACKEND", "nosuch"}, want: `MQWAL_BACKEND (backend): unknown backend "nosuch"`, unknown: true},
		{name: "unknown backend from flag", backend: "nosuch", want: `config: --backend: unknown backend "nosuch"`, unknown: true},
		{name: "empty backend", yaml: "backend: ''\n", want: "backend: must not be empty"},
		{name: "unknown top key", yaml: "backnd: rmq\n", want: "backnd: unknown key (known here: backend, rmq, memory, kafka, pulsar)"},
		{name: "unknown nested key", yaml: "rmq:\n  pth: /x\n", want: "rmq.pth: unknown key (known here: path, sync, group_commit_window, max_message_size)"},
		{name: "unknown deep key", yaml: "kafka:\n  sasl:\n    user: x\n", want: "kafka.sasl.user: unknown key"},
		{name: "duplicate key", yaml: "rmq:\n  path: a\n  path: b\n", want: "rmq.path: given twice (first at line 2)"},
		{name: "section not a mapping", yaml: "rmq: /data\n", want: "rmq: must be a mapping of keys"},
		{name: "top not a mapping", yaml: "- rmq\n", want: "the top level must be a mapping"},
		{name: "syntax error", yaml: "rmq:\n  path: [\n", want: "did not find expected node content"},
		{name: "two documents", yaml: "backend: rmq\n---\nbackend: memory\n", want: "more than one YAML document"},
		{name: "int wrong type", yaml: "rmq:\n  max_message_size: big\n", want: `rmq.max_message_size: must be an integer, got "big"`},
		{name: "bool wrong type", yaml: "kafka:\n  create_topics: maybe\n", want: `kafka.create_topics: must be true or false, got "maybe"`},
		{name: "duration wrong type", yaml: "kafka:\n  timeouts:\n    dial: 5\n", want: `kafka.timeouts.dial: must be a duration such as 500ms or 10s, got "5"`},
		{name: "list wrong type", yaml: "kafka:\n  brokers: {a: b}\n", want: "kafka.brokers: must be a list of strings, got a mapping"},
		{name: "rmq empty path", yaml: "rmq:\n  path: ''\n", want: "rmq.path: must not be empty"},
		{name: "rmq bad sync", yaml: "rmq:\n  sync: always\n", want: `rmq.sync: must be sync, group or none, got "always"`},
		{name: "rmq bad sync env", env: []string{"MQWAL_RMQ_SYNC", "fast"}, want: `MQWAL_RMQ_SYNC (rmq.sync): must be sync, group or none, got "fast"`},
		{name: "rmq negative window", yaml: "rmq:\n  group_commit_window: -1s\n", want: "rmq.group_commit_window: must be >= 0, got -1s"},
		{name: "rmq negative size", yaml: "rmq:\n  max_message_size: -1\n", want: "rmq.max_message_size: must be >= 0, got -1"},
		{name: "memory negative size", yaml: "memory:\n  max_message_size: -5\n", want: "memory.max_message_size: must be >= 0, got -5"},
		{name: "kafka replication 0", yaml: "kafka:\n  replication_factor: 0\n", want: "kafka.replication_factor: must be >= 1, got 0"},
		{name: "kafka replication 0 env", env: []string{"MQWAL_KAFKA_REPLICATION_FACTOR", "0"}, want: "MQWAL_KAFKA_REPLICATION_FACTOR (kafka.replication_factor): must be >= 1, got 0"},
		{name: "kafka replication huge", yaml: "kafka:\n  replication_factor: 40000\n", want: "kafka.replication_factor: must be <= 32767"},
		{name: "kafka replication env not int", env: []string{"MQWAL_KAFKA_REPLICATION_FACTOR", "three"}, want: `MQWAL_KAFKA_REPLICATION_FACTOR (kafka.replication_factor): must be an integer, got "three"`},
		{name: "kafka broker no port", yaml: "kafka:\n  brokers: [localhost]\n", want: `kafka.brokers: broker 1 ("localhost"): must be host:port`},
		{name: "kafka broker bad port", env: []string{"MQWAL_KAFKA_BROKERS", "a:1,b:99999"}, want: `MQWAL_KAFKA_BROKERS (kafka.brokers): broker 2 ("b:99999"): port must be 1..65535`},
		{name: "kafka broker no host", yaml: "kafka:\n  brokers: [':9092']\n", want: "host must not be empty"},
		{name: "kafka brokers required", yaml: "kafka:\n  topic_prefix: x\n", backend: "kafka", want: "kafka.brokers: at least one host:port is required for backend kafka (or set MQWAL_KAFKA_BROKERS)", unknownOK: true},
		{name: "kafka prefix chars", yaml: "kafka:\n  topic_prefix: 'a/b'\n", want: `kafka.topic_prefix: may hold only letters, digits, '.', '_' and '-', got "/" in "a/b"`},
		{name: "kafka prefix long", yaml: "kafka:\n  topic_prefix: " + strings.Repeat("p", 50) + "\n", want: "kafka.topic_prefix: must be at most 49 bytes"},
		{name: "kafka empty client id", yaml: "kafka:\n  client_id: ''\n", want: "kafka.client_id: must not be empty"},
		{name: "kafka negative max bytes", yaml: "kafka:\n  max_message_bytes: -1\n", want: "kafka.max_message_bytes: must be >= 0"},
		{name: "kafka negative expiration", yaml: "kafka:\n  producer_id_expiration: -1s\n", want: "kafka.producer_id_expiration: must be >= 0 (0 reads it from the brokers), got -1s"},
		{name: "kafka negative queued appends", yaml: "kafka:\n  max_queued_appends: -1\n", want: "kafka.max_queued_appends: must be >= 0"},
		{name: "kafka negative queued bytes", env: []string{"MQWAL_KAFKA_MAX_QUEUED_BYTES", "-5"}, want: "MQWAL_KAFKA_MAX_QUEUED_BYTES (kafka.max_queued_bytes): must be >= 0"},
		{name: "kafka allow retention not bool", yaml: "kafka:\n  allow_retention: sometimes\n", want: `kafka.allow_retention: must be true or false, got "sometimes"`},
		{name: "kafka zero timeout", yaml: "kafka:\n  timeouts:\n    request: 0s\n", want: "kafka.timeouts.request: must be > 0, got 0s"},
		{name: "kafka bad sasl", yaml: "kafka:\n  sasl:\n    mechanism: GSSAPI\n", want: `kafka.sasl.mechanism: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got "GSSAPI"`},
		{name: "kafka sasl no user", yaml: "kafka:\n  sasl:\n    mechanism: PLAIN\n", want: "kafka.sasl.username: must be set with sasl.mechanism PLAIN"},
		{name: "kafka sasl user no mechanism", env: []string{"MQWAL_KAFKA_SASL_PASSWORD", "pw"}, want: "kafka.sasl.mechanism: must be set when sasl.username or sasl.password is"},
		{name: "kafka tls cert without key", yaml: "kafka:\n  tls:\n    enabled: true\n    cert_file: " + cert + "\n", want: "kafka.tls.cert_file: cert_file and key_file go together"},
		{name: "kafka tls missing ca", yaml: "kafka:\n  tls:\n    enabled: true\n    ca_file: " + missing + "\n", want: "kafka.tls.ca_file: cannot read " + missing + ": no such file or directory"},
		{name: "kafka tls not enabled", yaml: "kafka:\n  tls:\n    ca_file: " + cert + "\n", want: "kafka.tls.enabled: is false but other tls keys are set"},
		{name: "pulsar url scheme", yaml: "pulsar:\n  url: http://p:8080\n", want: `pulsar.url: scheme must be pulsar or pulsar+ssl, got "http"`},
		{name: "pulsar url no host", env: []string{"MQWAL_PULSAR_URL", "pulsar://"}, want: `MQWAL_PULSAR_URL (pulsar.url): must name a host`},
		{name: "pulsar url required", yaml: "pulsar:\n  tenant: t\n", backend: "pulsar", want: "pulsar.url: is required for backend pulsar", unknownOK: true},
		{name: "pulsar empty tenant", yaml: "pulsar:\n  tenant: ''\n", want: "pulsar.tenant: must not be empty"},
		{name: "pulsar bad namespace", yaml: "pulsar:\n  namespace: a/b\n", want: `pulsar.namespace: may hold only letters, digits and . _ - = :, got "/" in "a/b"`},
		{name: "pulsar bad prefix", yaml: "pulsar:\n  topic_prefix: 'x y'\n", want: `pulsar.topic_prefix: may hold only`},
		{name: "pulsar token twice", yaml: "pulsar:\n  auth:\n    token: a\n    token_file: " + cert + "\n", want: "pulsar.auth.token: give auth.token or auth.token_file, not both"},
		{name: "pulsar token file missing", yaml: "pulsar:\n  auth:\n    token_file: " + missing + "\n", want: "pulsar.auth.token_file: cannot read"},
		{name: "pulsar tls needs ssl url", yaml: "pulsar:\n  url: pulsar://h:6650\n  tls:\n    enabled: true\n", want: `pulsar.tls.enabled: needs a pulsar+ssl:// url`},
		{name: "pulsar zero operation timeout", env: []string{"MQWAL_PULSAR_TIMEOUTS_OPERATION", "0s"}, want: "MQWAL_PULSAR_TIMEOUTS_OPERATION (pulsar.timeouts.operation): must be > 0, got 0s"},
		{name: "env duration", env: []string{"MQWAL_PULSAR_TIMEOUTS_CONNECTION", "soon"}, want: `MQWAL_PULSAR_TIMEOUTS_CONNECTION (pulsar.timeouts.connection): must be a duration such as 500ms or 10s, got "soon"`},
		{name: "pulsar negative max size", yaml: "pulsar:\n  max_message_size: -1\n", want: "pulsar.max_message_size: must be >= 0, got -1"},
		{name: "pulsar negative in flight", yaml: "pulsar:\n  max_in_flight: -1\n", want: "pulsar.max_in_flight: must be >= 0, got -1"},
		{name: "pulsar admin url scheme", yaml: "pulsar:\n  admin_url: pulsar://p:6650\n", want: `pulsar.admin_url: must be http://host:port or https://host:port, got "pulsar://p:6650"`},
		{name: "pulsar admin url no host", env: []string{"MQWAL_PULSAR_ADMIN_URL", "http://"}, want: `MQWAL_PULSAR_ADMIN_URL (pulsar.admin_url): must name a host`},
		{name: "pulsar bad subscription", yaml: "pulsar:\n  truncate_subscription: a/b\n", want: `pulsar.truncate_subscription: may hold only`},
		{name: "pulsar client cert", yaml: "pulsar:\n  url: pulsar+ssl://h:6651\n  tls:\n    cert_file: " + cert + "\n    key_file: " + cert + "\n", want: "pulsar.tls.cert_file: client certificates are not supported by the pulsar driver"},
		{name: "pulsar server name", yaml: "pulsar:\n  url: pulsar+ssl://h:6651\n  tls:\n    server_name: x\n", want: "pulsar.tls.server_name: is not supported by the pulsar driver"},
		{name: "env bool", env: []string{"MQWAL_KAFKA_CREATE_TOPICS", "nope"}, want: `MQWAL_KAFKA_CREATE_TOPICS (kafka.create_topics): must be true or false, got "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = writeFile(t, tc.yaml)
			}
			opts := []config.LoadOption{env(tc.env...)}
			if tc.backend != "" {
				opts = append(opts, config.WithBackend(tc.backend))
			}
			c, err := config.Load(path, opts...)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			if tc.unknownOK && errors.Is(err, walimpls.ErrUnknownBackend) {
				t.Skipf("backend %s not registered in this build: %v", tc.backend, err)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *config.Error", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: ") || !strings.Contains(msg, tc.want) {
				t.Fatalf("error\n  %s\nwant it to contain\n  %s", msg, tc.want)
			}
			if strings.Contains(msg, "\n") {
				t.Fatalf("error spans lines: %q", msg)
			}
			sentinel := walimpls.ErrInvalidArgument
			if tc.unknown {
				sentinel = walimpls.ErrUnknownBackend
			}
			if !errors.Is(err, sentinel) {
				t.Fatalf("error %v does not wrap %v", err, sentinel)
			}
			if tc.yaml != "" && ce.Source != "" && !strings.HasPrefix(ce.Source, "MQWAL_") && ce.Source != "--backend" && !strings.HasPrefix(ce.Source, path) {
				t.Fatalf("source %q does not name the file %s", ce.Source, path)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := config.Load(p, env())
	if err == nil || err.Error() != "config: "+p+": cannot read file: no such file or directory" {
		t.Fatalf("got %v", err)
	}
	if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Fatalf("%v does not wrap ErrNotExist and ErrInvalidArgument", err)
	}
}

func TestUnknownBackendListsRegistered(t *testing.T) {
	_, err := config.Load("", env(), config.WithBackend("nosuch"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"memory", "rmq"} {
		if !strings.Contains(err.Error(), name) {
			t.Fatalf("%v does not list %s", err, name)
		}
	}
}

func TestValidateProgrammatic(t *testing.T) {
	c := config.Default()
	c.RMQ.Sync = "sometimes"
	err := c.Validate()
	if err == nil || err.Error() != `config: rmq.sync: must be sync, group or none, got "sometimes"` {
		t.Fatalf("got %v", err)
	}
	if _, err := c.DriverBuilder(); err == nil {
		t.Fatal("DriverBuilder built an invalid config")
	}
	c.RMQ.Sync = "none"
	c.RMQ.Path = t.TempDir()
	b, err := c.DriverBuilder()
	if err != nil {
		t.Fatal(err)
	}
	o, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
}

func TestPulsarDriverBuilder(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("jwt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("p.yaml", []byte("backend: pulsar\npulsar:\n  url: pulsar+ssl://h:6651\n  auth:\n    token_file: "+tok+"\n  tls:\n    insecure_skip_verify: true\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.DriverBuilder()
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "pulsar" {
		t.Fatalf("builder %T named %q", b, b.Name())
	}
	if err := os.Remove(tok); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DriverBuilder(); err == nil || !strings.Contains(err.Error(), "pulsar.auth.token_file: cannot read") {
		t.Fatalf("token file gone: %v", err)
	}
}

func TestKafkaDriverBuilder(t *testing.T) {
	c, err := config.Parse("k.yaml", []byte("backend: kafka\nkafka:\n  brokers: [127.0.0.1:1]\n  replication_factor: 1\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.DriverBuilder()
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "kafka" {
		t.Fatalf("builder %T named %q", b, b.Name())
	}
}
