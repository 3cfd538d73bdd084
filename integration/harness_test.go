package integration

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// noEnv keeps a config independent of the process environment, so an
// external broker named there never leaks into an embedded run.
var noEnv = config.WithEnv(func(string) (string, bool) { return "", false })

// loadConfig writes yaml to a file and loads it the way an application does.
func loadConfig(t *testing.T, yaml string, opts ...config.LoadOption) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mqwal.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Harness timeouts: each wait for a message, a Close or an append. The
// history checker under faults gives itself six of them, which against a
// real broker has to cover two restarts (a Pulsar standalone takes tens of
// seconds to come back).
const (
	inProcessTimeout = 20 * time.Second
	brokerTimeout    = 60 * time.Second
)

// runHarness runs the whole conformance harness against cfg's backend,
// injecting each of faults while its history checker runs.
func runHarness(t *testing.T, cfg *config.Config, timeout time.Duration, faults ...walimplstest.Fault) {
	t.Helper()
	b, err := cfg.DriverBuilder()
	if err != nil {
		t.Fatal(err)
	}
	probe, err := b.Build()
	if err != nil {
		t.Fatalf("build %s: %v", cfg.Backend, err)
	}
	probe.Close()
	walimplstest.Run(t, walimplstest.Harness{
		NewOpener: func() (walimpls.OpenerImpls, error) { return b.Build() },
		Faults:    faults,
		Timeout:   timeout,
	})
}

// clearDriverEnv unsets the variables the drivers themselves read (they
// override explicit configuration), for the duration of t.
func clearDriverEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{config.EnvVar("kafka.brokers"), config.EnvVar("pulsar.url"), config.EnvVar("rmq.path")} {
		t.Setenv(k, "")
	}
}

// randomPrefix is a topic prefix unique to one run ("it3fa9c2d1-"), so runs
// against a shared broker never meet, and faults touch only their own topics.
func randomPrefix(kind string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return kind + hex.EncodeToString(b[:]) + "-"
}

func yamlList(items []string) string {
	s := "["
	for i, it := range items {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", it)
	}
	return s + "]"
}
