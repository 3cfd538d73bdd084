package rmq

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runChild runs this test binary with env set to value (TestMain then
// runs the child's function instead of the tests) and returns its
// standard output. The child must exit 0 within timeout, and must not
// panic or crash: Pebble stopping a process with a Go runtime error is
// what several of these children test for.
func runChild(t *testing.T, env, value string, timeout time.Duration) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+value)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the child hangs; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	if err != nil || crashed.MatchString(stderr.String()) {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// crashed matches the Go runtime's report of a panic or a fatal error.
var crashed = regexp.MustCompile(`(?m)^(panic|fatal error): `)

// childLines maps each "key: value" (or "key value") line of a child's
// output to its value; a key that repeats keeps its last value.
func childLines(out string) map[string]string {
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		if k == l {
			k, v, _ = strings.Cut(l, " ")
		}
		lines[k] = v
	}
	return lines
}
