package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopLimit is how long a command may take to exit after SIGINT: the
// promise is a second; the rest is slack for a loaded machine.
const stopLimit = 1500 * time.Millisecond

// signalStop sends SIGINT, collects the rest of stdout, and returns the
// exit status and what was printed, failing if the process takes longer
// than stopLimit to exit.
func (p *proc) signalStop(t *testing.T) (code int, out []string) {
	t.Helper()
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if ok {
				out = append(out, l)
				continue
			}
			<-p.done
			took := time.Since(sent)
			t.Logf("walctl %v exited %s after SIGINT", p.cmd.Args[1:], took.Round(time.Millisecond))
			if took > stopLimit {
				t.Errorf("walctl %v took %s to exit after SIGINT, more than a second; stderr:\n%s", p.cmd.Args[1:], took, p.stderr)
			}
			if ee := (*exec.ExitError)(nil); errors.As(p.err, &ee) {
				return ee.ExitCode(), out
			}
			if p.err != nil {
				t.Fatal(p.err)
			}
			return 0, out
		case <-deadline:
			t.Fatalf("walctl %v did not exit within 10s of SIGINT; stderr:\n%s", p.cmd.Args[1:], p.stderr)
		}
	}
}

// waitStderr waits until the process's stderr contains s.
func (p *proc) waitStderr(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("walctl %v: stderr never said %q:\n%s", p.cmd.Args[1:], s, p.stderr)
		}
		select {
		case <-p.done:
			t.Fatalf("walctl %v exited (%v) before stderr said %q:\n%s", p.cmd.Args[1:], p.err, s, p.stderr)
		case <-time.After(20 * time.Millisecond): // polling stderr, which has no event to wait on
		}
	}
}

// Every command ends within a second of SIGINT, with what it measured
// when it measures something (issue 19).
func TestSignalsEndEveryCommandWithinASecond(t *testing.T) {
	t.Parallel()
	t.Run("append from stdin", func(t *testing.T) {
		t.Parallel()
		p, in := startPiped(t, true, "--config", rmqConfig(t, "sync"), "append", "-c", "typed")
		defer in.Close()
		if _, err := in.Write([]byte("one\n")); err != nil {
			t.Fatal(err)
		}
		p.next(t, 30*time.Second) // its id: appended, now waiting for the next line
		code, _ := p.signalStop(t)
		if code != 1 || !strings.Contains(p.stderr.String(), `append to "typed" interrupted after 1 messages`) {
			t.Errorf("exit %d, stderr %q", code, p.stderr)
		}
	})
	t.Run("scan --follow", func(t *testing.T) {
		t.Parallel()
		cfg := rmqConfig(t, "none")
		mustRun(t, "", "--config", cfg, "append", "-c", "tail", "x")
		p := start(t, "--config", cfg, "scan", "-c", "tail", "--follow")
		p.next(t, 30*time.Second)
		if code, _ := p.signalStop(t); code != 0 {
			t.Errorf("exit %d, stderr %q", code, p.stderr)
		}
	})
	for _, kind := range []string{"kafka", "pulsar"} {
		t.Run("dev-broker "+kind, func(t *testing.T) {
			t.Parallel()
			p, _, _ := devBroker(t, kind)
			if code, _ := p.signalStop(t); code != 0 {
				t.Errorf("exit %d, stderr %q", code, p.stderr)
			}
		})
	}
	t.Run("bench", func(t *testing.T) {
		t.Parallel()
		p := start(t, "--config", rmqConfig(t, "none"), "bench", "--duration", "5m", "--concurrency", "2")
		p.waitStderr(t, "append: ")
		code, out := p.signalStop(t)
		all := strings.Join(out, "\n")
		if code != 1 || !strings.Contains(all, "append latency: p50") || !strings.Contains(all, "interrupted: not read back; channels bench-") ||
			!strings.Contains(p.stderr.String(), "bench interrupted after") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, all, p.stderr)
		}
	})
	t.Run("verify", func(t *testing.T) {
		t.Parallel()
		report := filepath.Join(t.TempDir(), "report.json")
		p := start(t, "--config", rmqConfig(t, "none"), "verify", "--duration", "5m", "--report", report)
		p.waitStderr(t, "verify: ")
		code, out := p.signalStop(t)
		all := strings.Join(out, "\n")
		if code != 0 || !strings.Contains(all, "interrupted after") || !strings.Contains(all, "anomalies: 0") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, all, p.stderr)
		}
		var r verifyReport
		data, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		if !r.Interrupted || r.Counts.Acked == 0 || r.AnomaliesTotal != 0 {
			t.Errorf("report after Ctrl-C: interrupted %v, %+v, %d anomalies", r.Interrupted, r.Counts, r.AnomaliesTotal)
		}
	})
}
