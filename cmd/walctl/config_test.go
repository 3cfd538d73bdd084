package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mqwal/mqwal/config"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mqwal.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A misspelt MQWAL_* variable is reported, once, with the nearest known
// name; the command still runs (issue 19).
func TestUnknownVariableWarning(t *testing.T) {
	t.Parallel()
	r := runBinaryEnv(t, []string{"MQWAL_RMQ_PATHH=" + t.TempDir()}, "", "--backend", "memory", "bench", "--count", "20")
	const want = "walctl: warning: config: MQWAL_RMQ_PATHH: unknown variable, ignored; did you mean MQWAL_RMQ_PATH?\n"
	if r.code != 0 || strings.Count(r.stderr, want) != 1 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// An empty config file is reported: it is almost always a config that a
// dev-broker has not written yet (issue 19).
func TestEmptyConfigWarning(t *testing.T) {
	t.Parallel()
	p := writeConfig(t, "")
	r := inproc(t, "", "--config", p, "--backend", "memory", "backends")
	if r.code != 0 || !strings.HasPrefix(r.stderr, "walctl: warning: config: "+p+": the file is empty, so the defaults apply (backend rmq).") ||
		!strings.Contains(r.stderr, "dev-broker --config-out writes it whole once the broker is up") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	// A file that configures kafka but selects nothing runs rmq: say so.
	p = writeConfig(t, "kafka:\n  brokers: [127.0.0.1:9092]\n")
	r = inproc(t, "", "--config", p, "backends")
	if !strings.Contains(r.stderr, "walctl: warning: config: backend: "+p+" configures kafka but names no backend; add backend: kafka (using rmq, the default)") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// A YAML syntax error names the line of the unclosed bracket (issue 19:
// line 1 was named for a "[" on line 2).
func TestYAMLErrorLine(t *testing.T) {
	t.Parallel()
	p := writeConfig(t, "backend: rmq\nrmq: {path: ./x\n")
	r := inproc(t, "", "--config", p, "backends")
	want := "walctl: config: " + p + `:2: did not find expected ',' or '}' (the "{" on this line is not closed)` + "\n"
	if r.code != 1 || r.stderr != want {
		t.Fatalf("exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
}

// backends lists every key with its variable and default, from what the
// drivers registered, and prints the limit appends meet, adaptor's too.
func TestBackendsListsKeysAndEnforcedLimit(t *testing.T) {
	t.Parallel()
	p := writeConfig(t, "backend: memory\nadaptor:\n  max_message_size: 1000\n")
	out := mustRun(t, "", "--config", p, "backends")
	for _, re := range []string{
		`(?m)^\* memory +no +yes +1000 B +in this process only$`,
		`(?m)^CONFIG KEY +ENVIRONMENT +DEFAULT$`,
		`(?m)^kafka\.brokers +MQWAL_KAFKA_BROKERS +-$`,
		`(?m)^pulsar\.tenant +MQWAL_PULSAR_TENANT +public$`,
		`(?m)^rmq\.path +MQWAL_RMQ_PATH +\./mqwal-data$`,
		`(?m)^adaptor\.close_timeout +MQWAL_ADAPTOR_CLOSE_TIMEOUT +10s$`,
		`(?m)^memory\.max_message_size +MQWAL_MEMORY_MAX_MESSAGE_SIZE +0$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("backends output does not match %s:\n%s", re, out)
		}
	}
	if r := inproc(t, strings.Repeat("x", 1000)+"\n", "--config", p, "append", "-c", "limit"); r.code != 0 {
		t.Fatalf("a payload of exactly the printed limit: exit %d, %s", r.code, r.stderr)
	}
	if r := inproc(t, strings.Repeat("x", 1001)+"\n", "--config", p, "append", "-c", "limit"); r.code != 1 || !strings.Contains(r.stderr, "message too large") {
		t.Fatalf("one byte more: exit %d, %s", r.code, r.stderr)
	}
}

// The README's config example loads as printed: every key is known, every
// value valid, and no file it names has to exist (issue 19).
func TestREADMEConfigLoads(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n## Config\n\n```yaml\n(.*?)```").FindSubmatch(data)
	if m == nil {
		t.Fatal("README has no yaml block right under ## Config")
	}
	var warnings []string
	c, err := config.Parse("README.md", m[1], config.WithEnviron(nil), config.WithWarnings(func(w *config.Error) { warnings = append(warnings, w.Error()) }))
	if err != nil {
		t.Fatalf("README config: %v\n%s", err, m[1])
	}
	if len(warnings) > 0 {
		t.Fatalf("README config warns: %q", warnings)
	}
	if _, err := c.DriverBuilder(); err != nil {
		t.Fatalf("README config builds no driver: %v", err)
	}
	// Every section of the example is a registered backend's, and every
	// backend has one.
	for _, name := range []string{"rmq", "kafka", "pulsar"} {
		if c.Source(name) == "" {
			t.Errorf("README config has no %s section", name)
		}
	}
}
