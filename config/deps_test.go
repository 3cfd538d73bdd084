package config_test

import (
	"os/exec"
	"strings"
	"testing"
)

// config imports no driver, and no metrics library: a program links only
// the drivers it imports itself (issue 14), and Prometheus only if it asks
// for metrics.
func TestConfigImportsNoDriver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/mqwal/mqwal/config").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages: %s", len(deps), out)
	}
	for _, p := range deps {
		for _, banned := range []string{"github.com/mqwal/mqwal/impls/", "github.com/mqwal/mqwal/adaptor/prommetrics", "github.com/prometheus/"} {
			if strings.HasPrefix(p, banned) {
				t.Errorf("config imports %s", p)
			}
		}
	}
}
