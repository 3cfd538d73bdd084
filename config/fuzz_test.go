package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/walimpls"
)

// FuzzParse: any bytes give either a valid config or one *Error that wraps a
// sentinel and fits on one line; never a panic.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"backend: rmq\nrmq:\n  path: /x\n  sync: group\n",
		"backend: kafka\nkafka:\n  brokers: [a:1]\n  replication_factor: 0\n",
		"kafka:\n  brokers: 'a:1,b:2'\n  timeouts: {dial: 1s}\n",
		"pulsar:\n  url: pulsar://h:6650\n  auth: {token: x}\n",
		"rmq: [1, 2]\n",
		"- a\n- b\n",
		"a: &x 1\nb: *x\n",
		"rmq:\n  <<: {path: /y}\n",
		"backend: !!binary aGVsbG8=\n",
		"{{{{",
		"---\n---\n",
		"kafka:\n  replication_factor: 99999999999999999999\n",
		"adaptor:\n  write_ahead_cache: [\n",
		"log: {level: debug, format: json}\nrmq: {path: a, sync: b: c}\n",
		"a: [1,\n 2]\n\tb: c\n",
	} {
		f.Add([]byte(seed))
	}
	noEnv := config.WithEnv(func(string) (string, bool) { return "", false })
	quiet := config.WithWarnings(func(*config.Error) {})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.yaml", data, noEnv, quiet)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Parse accepted a config Validate refuses: %v", verr)
			}
			return
		}
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %T is not a *config.Error: %v", err, err)
		}
		if !errors.Is(err, walimpls.ErrInvalidArgument) && !errors.Is(err, walimpls.ErrUnknownBackend) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("error spans lines: %q", err)
		}
		if !strings.HasPrefix(err.Error(), "config: ") {
			t.Fatalf("error %q lacks the config: prefix", err)
		}
	})
}
