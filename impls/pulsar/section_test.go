package pulsar_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/config/configtest"
	"github.com/mqwal/mqwal/impls/pulsar"
)

func pulsarSection(c *config.Config) *pulsar.Section { return c.Section("pulsar").(*pulsar.Section) }

func TestSectionFileValues(t *testing.T) {
	c := configtest.Load(t, `
backend: pulsar
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
  timeouts: {connection: 4s, operation: 5s, scanner_park: 0s}
`)
	pu := pulsarSection(c)
	if pu.URL != "pulsar://p:6650" || pu.Tenant != "t" || pu.Namespace != "ns" || pu.TopicPrefix != "x-" || pu.Auth.Token != "tok" ||
		pu.MaxMessageSize != 1<<20 || pu.MaxInFlight != 10 || pu.TruncateSubscription != "trunc" ||
		pu.AdminURL != "https://p:8443" || !pu.AllowExpiringPolicies ||
		pu.Timeouts != (pulsar.SectionTimeouts{Connection: 4 * time.Second, Operation: 5 * time.Second, ScannerPark: 0}) {
		t.Fatalf("pulsar: %+v", pu)
	}
	if pu.Describe() != "pulsar://p:6650" {
		t.Fatalf("Describe = %q", pu.Describe())
	}
}

func TestSectionEnvironment(t *testing.T) {
	c := configtest.Load(t, "backend: pulsar\npulsar:\n  url: pulsar://file:6650\n",
		"MQWAL_PULSAR_URL", "pulsar://env:6650",
		"MQWAL_PULSAR_AUTH_TOKEN", "secret",
		"MQWAL_PULSAR_ALLOW_EXPIRING_POLICIES", "true",
		"MQWAL_PULSAR_TIMEOUTS_OPERATION", "3s",
	)
	pu := pulsarSection(c)
	if pu.URL != "pulsar://env:6650" || pu.Auth.Token != "secret" || !pu.AllowExpiringPolicies || pu.Timeouts.Operation != 3*time.Second {
		t.Fatalf("pulsar %+v", pu)
	}
	have := map[string]bool{}
	for _, k := range config.Keys() {
		have[k] = true
	}
	for _, k := range []string{"pulsar.url", "pulsar.auth.token", "pulsar.admin_url", "pulsar.allow_expiring_policies"} {
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
		{Name: "url scheme", YAML: "pulsar:\n  url: http://p:8080\n", Want: `pulsar.url: scheme must be pulsar or pulsar+ssl, got "http"`},
		{Name: "url no host", Env: []string{"MQWAL_PULSAR_URL", "pulsar://"}, Want: `MQWAL_PULSAR_URL (pulsar.url): must name a host`},
		{Name: "url required", YAML: "pulsar:\n  tenant: t\n", Want: "pulsar.url: is required for backend pulsar, e.g. pulsar://localhost:6650 (or set MQWAL_PULSAR_URL)"},
		{Name: "empty tenant", YAML: "pulsar:\n  tenant: ''\n", Want: "pulsar.tenant: must not be empty"},
		{Name: "bad namespace", YAML: "pulsar:\n  namespace: a/b\n", Want: `pulsar.namespace: may hold only letters, digits and . _ - = :, got "/" in "a/b"`},
		{Name: "bad prefix", YAML: "pulsar:\n  topic_prefix: 'x y'\n", Want: `pulsar.topic_prefix: may hold only`},
		{Name: "token twice", YAML: "pulsar:\n  auth:\n    token: a\n    token_file: " + cert + "\n", Want: "pulsar.auth.token: give auth.token or auth.token_file, not both"},
		{Name: "token file missing", YAML: "pulsar:\n  auth:\n    token_file: " + missing + "\n", Want: "pulsar.auth.token_file: cannot read " + missing + ": no such file or directory"},
		{Name: "tls needs ssl url", YAML: "pulsar:\n  url: pulsar://h:6650\n  tls:\n    enabled: true\n", Want: `pulsar.tls.enabled: needs a pulsar+ssl:// url`},
		{Name: "zero operation timeout", Env: []string{"MQWAL_PULSAR_TIMEOUTS_OPERATION", "0s"}, Want: "MQWAL_PULSAR_TIMEOUTS_OPERATION (pulsar.timeouts.operation): must be > 0, got 0s"},
		{Name: "negative scanner park", Env: []string{"MQWAL_PULSAR_TIMEOUTS_SCANNER_PARK", "-1s"}, Want: "MQWAL_PULSAR_TIMEOUTS_SCANNER_PARK (pulsar.timeouts.scanner_park): must be >= 0"},
		{Name: "env duration", Env: []string{"MQWAL_PULSAR_TIMEOUTS_CONNECTION", "soon"}, Want: `MQWAL_PULSAR_TIMEOUTS_CONNECTION (pulsar.timeouts.connection): must be a duration such as 500ms or 10s, got "soon"`},
		{Name: "negative max size", YAML: "pulsar:\n  max_message_size: -1\n", Want: "pulsar.max_message_size: must be >= 0, got -1"},
		{Name: "negative in flight", YAML: "pulsar:\n  max_in_flight: -1\n", Want: "pulsar.max_in_flight: must be >= 0, got -1"},
		{Name: "admin url scheme", YAML: "pulsar:\n  admin_url: pulsar://p:6650\n", Want: `pulsar.admin_url: must be http://host:port or https://host:port, got "pulsar://p:6650"`},
		{Name: "admin url no host", Env: []string{"MQWAL_PULSAR_ADMIN_URL", "http://"}, Want: `MQWAL_PULSAR_ADMIN_URL (pulsar.admin_url): must name a host`},
		{Name: "bad subscription", YAML: "pulsar:\n  truncate_subscription: a/b\n", Want: `pulsar.truncate_subscription: may hold only`},
		{Name: "client cert", YAML: "pulsar:\n  url: pulsar+ssl://h:6651\n  tls:\n    cert_file: " + cert + "\n    key_file: " + cert + "\n", Want: "pulsar.tls.cert_file: client certificates are not supported by the pulsar driver"},
		{Name: "server name", YAML: "pulsar:\n  url: pulsar+ssl://h:6651\n  tls:\n    server_name: x\n", Want: "pulsar.tls.server_name: is not supported by the pulsar driver"},
		{Name: "ssl url missing ca", YAML: "pulsar:\n  url: pulsar+ssl://h:6651\n  tls:\n    ca_file: " + missing + "\n", Want: "pulsar.tls.ca_file: cannot read " + missing},
	}
	for i := range cases {
		cases[i].Backend = "pulsar" // the only backend of this test binary
	}
	configtest.Refused(t, cases)
}

// The token file is read when the builder is made: gone by then, it is an
// error naming the key.
func TestSectionBuilder(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("jwt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := configtest.Load(t, "backend: pulsar\npulsar:\n  url: pulsar+ssl://h:6651\n  auth:\n    token_file: "+tok+"\n  tls:\n    insecure_skip_verify: true\n")
	b, err := c.DriverBuilder()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(*pulsar.Builder); !ok || b.Name() != "pulsar" {
		t.Fatalf("builder %T named %q", b, b.Name())
	}
	if err := os.Remove(tok); err != nil {
		t.Fatal(err)
	}
	_, err = c.DriverBuilder()
	if err == nil || !strings.Contains(err.Error(), "pulsar.auth.token_file: cannot read "+tok) {
		t.Fatalf("token file gone: %v", err)
	}
}
