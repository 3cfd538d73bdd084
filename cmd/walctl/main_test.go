package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// binaryTimeout bounds one walctl run in the tests.
const binaryTimeout = 3 * time.Minute

// walctlBin is the binary the CLI tests drive as a user would; TestMain
// builds it once.
var walctlBin string

func TestMain(m *testing.M) {
	// The tests choose their backends themselves; an MQWAL_* variable from the
	// environment (an external broker for the integration suite) must not
	// redirect them.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "MQWAL_") {
			os.Unsetenv(k)
		}
	}
	dir, err := os.MkdirTemp("", "walctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	walctlBin = filepath.Join(dir, "walctl")
	args := []string{"build", "-o", walctlBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build walctl: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	// goleak.VerifyTestMain would os.Exit before the binary is removed.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one walctl invocation printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// inproc runs walctl in this process (fast, and under -race).
func inproc(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), binaryTimeout)
	defer cancel()
	code := run(ctx, args, strings.NewReader(stdin), &out, &errb)
	if ctx.Err() != nil {
		t.Fatalf("walctl %s did not finish within %s: exit %d, stderr %s", strings.Join(args, " "), binaryTimeout, code, errb.String())
	}
	return result{out.String(), errb.String(), code}
}

// mustRun is inproc that fails the test on a non-zero exit.
func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := inproc(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("walctl %s: exit %d\nstderr: %s\nstdout: %s", strings.Join(args, " "), r.code, r.stderr, r.stdout)
	}
	return r.stdout
}

// runBinary runs the built walctl as a subprocess.
func runBinary(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runBinaryEnv(t, nil, stdin, args...)
}

// runBinaryEnv is runBinary with extra KEY=VALUE environment variables.
func runBinaryEnv(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), binaryTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, walctlBin, args...)
	// A hung walctl dumps its goroutines (SIGQUIT) into stderr for the report.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 10 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive a crashed test
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("walctl %s did not finish within %s; stderr:\n%s", strings.Join(args, " "), binaryTimeout, errb.String())
	}
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run walctl: %v", err)
	}
	return result{out.String(), errb.String(), code}
}

// rmqConfig writes a config for rmq in a fresh directory and returns its path.
func rmqConfig(t *testing.T, sync string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "mqwal.yaml")
	body := fmt.Sprintf("backend: rmq\nrmq:\n  path: %s\n  sync: %s\n", filepath.Join(dir, "data"), sync)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
