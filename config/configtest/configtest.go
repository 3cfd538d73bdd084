// Package configtest helps a driver test its configuration section the way a
// user meets it: through config.Load, with a file and environment variables
// that the test gives, never the process's.
package configtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/walimpls"
)

// Env is a config.LoadOption whose environment holds only vars, given as
// name, value pairs: a test never sees the process's variables.
func Env(vars ...string) config.LoadOption {
	env := make([]string, 0, len(vars)/2)
	for i := 0; i+1 < len(vars); i += 2 {
		env = append(env, vars[i]+"="+vars[i+1])
	}
	return config.WithEnviron(env)
}

// WriteFile writes body to a config file in a temporary directory of t and
// returns its path.
func WriteFile(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mqwal.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Load loads body (written to a file, "" for none) with env (name, value
// pairs) and fails t on an error or a warning.
func Load(t testing.TB, body string, env ...string) *config.Config {
	t.Helper()
	path := ""
	if body != "" {
		path = WriteFile(t, body)
	}
	var warnings []string
	c, err := config.Load(path, Env(env...), config.WithWarnings(func(w *config.Error) { warnings = append(warnings, w.Error()) }))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Fatalf("warnings: %q", warnings)
	}
	return c
}

// Case is a configuration that Load must refuse.
type Case struct {
	Name string
	// YAML is the file; "" for none.
	YAML string
	// Env holds name, value pairs.
	Env []string
	// Backend is given with config.WithBackend.
	Backend string
	// Want is a part of the error message: the key path and what is wrong
	// ("kafka.replication_factor: must be >= 1, got 0").
	Want string
	// Sentinel is what the error wraps; nil means walimpls.ErrInvalidArgument.
	Sentinel error
}

// Refused checks each case in a subtest: Load fails with one line, an
// *config.Error that starts "config: ", contains Want, wraps Sentinel, and,
// when the value came from the file, names the file.
func Refused(t *testing.T, cases []Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			path := ""
			if tc.YAML != "" {
				path = WriteFile(t, tc.YAML)
			}
			opts := []config.LoadOption{Env(tc.Env...), config.WithWarnings(func(*config.Error) {})}
			if tc.Backend != "" {
				opts = append(opts, config.WithBackend(tc.Backend))
			}
			c, err := config.Load(path, opts...)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			Check(t, err, tc.Want, tc.Sentinel)
			var ce *config.Error
			if errors.As(err, &ce) && tc.YAML != "" && ce.Source != "" && !strings.HasPrefix(ce.Source, config.EnvPrefix) && ce.Source != "--backend" && !strings.HasPrefix(ce.Source, path) {
				t.Fatalf("source %q does not name the file %s", ce.Source, path)
			}
		})
	}
}

// Check fails t unless err is a one-line *config.Error starting "config: ",
// containing want and wrapping sentinel (nil: walimpls.ErrInvalidArgument).
func Check(t testing.TB, err error, want string, sentinel error) {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %v is not a *config.Error", err, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "config: ") || !strings.Contains(msg, want) {
		t.Fatalf("error\n  %s\nwant it to contain\n  %s", msg, want)
	}
	if strings.Contains(msg, "\n") {
		t.Fatalf("error spans lines: %q", msg)
	}
	if sentinel == nil {
		sentinel = walimpls.ErrInvalidArgument
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v does not wrap %v", err, sentinel)
	}
}
