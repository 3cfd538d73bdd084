package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func readReport(t *testing.T, path string) verifyReport {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r verifyReport
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	return r
}

// checkCleanRun checks a verify run that must pass: status 0, every message
// acked and read, the faults injected, no anomaly.
func checkCleanRun(t *testing.T, r result, report string, messages int64, faults int) verifyReport {
	t.Helper()
	if r.code != 0 || !strings.Contains(r.stdout, "anomalies: 0\n") {
		t.Fatalf("verify: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	rep := readReport(t, report)
	c := rep.Counts
	if c.Acked != messages || c.Delivered < messages || rep.AnomaliesTotal != 0 || len(rep.Anomalies) != 0 || rep.Interrupted {
		t.Errorf("report: %+v, %d anomalies, interrupted %v", c, rep.AnomaliesTotal, rep.Interrupted)
	}
	if len(rep.Faults) != faults || rep.FaultsFailed != 0 {
		t.Errorf("report faults %+v, want %d injected", rep.Faults, faults)
	}
	if rep.AppendLatency.Count != messages || rep.AppendLatency.P99MS <= 0 || len(rep.AppendLatency.Buckets) == 0 || rep.EndToEnd.Count < messages {
		t.Errorf("report latencies: append %+v, end-to-end count %d", rep.AppendLatency, rep.EndToEnd.Count)
	}
	t.Logf("%s: %d acked in %.1fs (%.0f/s), %d not stored, %d unknown, faults %v", rep.Backend, c.Acked, rep.AppendSeconds,
		rep.RatePerSecond, c.NotStored, c.Unknown, rep.Faults)
	return rep
}

// The CI-sized version of the README's verify runs: several channels and
// readers, faults, zero anomalies, against rmq and each dev broker.
func TestVerifyUnderFaults(t *testing.T) {
	t.Parallel()
	const messages = 3000
	t.Run("rmq reopen", func(t *testing.T) {
		t.Parallel()
		report := filepath.Join(t.TempDir(), "r.json")
		r := runBinary(t, "", "--config", rmqConfig(t, "group"), "verify", "--channels", "4", "--writers", "2", "--concurrency", "2",
			"--readers", "2", "--messages", "3000", "--faults", "2", "--report", report)
		rep := checkCleanRun(t, r, report, messages, 2)
		if rep.Faults[0].Kind != "reopen" {
			t.Errorf("faults %+v, want reopen", rep.Faults)
		}
	})
	t.Run("kafka dev broker", func(t *testing.T) {
		t.Parallel()
		_, cfg, _ := devBroker(t, "kafka", "--brokers", "2")
		report := filepath.Join(t.TempDir(), "k.json")
		r := runBinary(t, "", "--config", cfg, "verify", "--channels", "4", "--readers", "2", "--messages", "3000", "--faults", "4", "--report", report)
		rep := checkCleanRun(t, r, report, messages, 4)
		var kinds []string
		for _, f := range rep.Faults {
			kinds = append(kinds, f.Kind)
		}
		if strings.Join(kinds, ",") != "restart,leader-move,drop-connections,lose-response" {
			t.Errorf("faults %v", kinds)
		}
		if !strings.Contains(rep.Faults[1].Detail, "partition leaders moved") {
			t.Errorf("leader move: %+v", rep.Faults[1])
		}
	})
	t.Run("pulsar dev broker", func(t *testing.T) {
		t.Parallel()
		_, cfg, _ := devBroker(t, "pulsar")
		report := filepath.Join(t.TempDir(), "p.json")
		faults := 3
		if raceEnabled {
			// pulsar-client-go v0.19.0 races with itself on reconnect
			// (DESIGN.md): faults run in the plain build only.
			faults = 0
		}
		r := runBinary(t, "", "--config", cfg, "verify", "--channels", "4", "--readers", "2", "--messages", "3000", "--faults", strconv.Itoa(faults), "--report", report)
		checkCleanRun(t, r, report, messages, faults)
	})
}

// A backend that stores appends it reports as refused fails the run: exit
// status 1, and the report lists each anomaly with its channel, message,
// ID and outcome.
func TestVerifyReportsAnomalies(t *testing.T) {
	t.Parallel()
	report := filepath.Join(t.TempDir(), "bad.json")
	r := inproc(t, "", "--backend", "memlossy", "verify", "--channels", "2", "--messages", "200", "--report", report, "--keep")
	if r.code != 1 || !strings.Contains(r.stderr, "anomalies on memlossy (first: stored-despite-error") || !strings.Contains(r.stderr, "walctl: anomaly: stored-despite-error: channel verify-") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	rep := readReport(t, report)
	if rep.AnomaliesTotal == 0 || rep.AnomaliesTotal != len(rep.Anomalies) || rep.AnomaliesByKind["stored-despite-error"] != rep.AnomaliesTotal {
		t.Fatalf("report: %d anomalies, by kind %v", rep.AnomaliesTotal, rep.AnomaliesByKind)
	}
	for _, a := range rep.Anomalies {
		if a.Channel == "" || a.Tag == "" || a.ID == "" || !strings.Contains(a.Outcome, "memlossy says it refused") || a.Rule == "" {
			t.Errorf("anomaly lacks a field: %+v", a)
		}
	}
	if rep.Counts.NotStored != int64(rep.AnomaliesTotal) {
		t.Errorf("%d not-stored appends, %d anomalies: each was stored", rep.Counts.NotStored, rep.AnomaliesTotal)
	}
}

// A reader's ReadOnly open that finds no channel yet is no anomaly, even
// when its answer arrives after the writer opened the channel and had an
// append acknowledged (memlateopen holds the answer back until then): what
// counts is whether an append was acknowledged before the open began. The
// CI flake of TestVerifyReportToStdout was this race.
func TestVerifyReaderOpenRacingTheFirstAppend(t *testing.T) {
	t.Parallel()
	report := filepath.Join(t.TempDir(), "late.json")
	r := inproc(t, "", "--backend", "memlateopen", "verify", "--channels", "1", "--writers", "1", "--readers", "1", "--messages", "20", "--report", report)
	if r.code != 0 || !strings.Contains(r.stdout, "anomalies: 0") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// The report goes to stdout with --report -, and the summary to stderr.
func TestVerifyReportToStdout(t *testing.T) {
	t.Parallel()
	r := inproc(t, "", "--backend", "memory", "verify", "--channels", "3", "--writers", "1", "--readers", "3", "--messages", "300", "--rate", "3000", "--report", "-")
	var rep verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("exit %d, stdout is not one report (%v):\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
	}
	if rep.Counts.Acked != 300 || rep.Counts.Delivered != 900 || rep.Config.Writers != 1 || !strings.Contains(r.stderr, "anomalies: 0") {
		t.Errorf("report %+v; stderr:\n%s", rep, r.stderr)
	}
	// --rate 3000 holds 300 messages back to at least ~0.1s.
	if rep.AppendSeconds < 0.09 {
		t.Errorf("300 messages at 3000/s took %.3fs", rep.AppendSeconds)
	}
	if !slices.Equal(rep.Config.FaultKinds, nil) || len(rep.Channels) != 3 {
		t.Errorf("config %+v, channels %v", rep.Config, rep.Channels)
	}
}
