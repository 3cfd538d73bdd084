package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestAppendScanRMQ(t *testing.T) {
	t.Parallel()
	cfg := rmqConfig(t, "sync")
	ids := lines(mustRun(t, "", "--config", cfg, "append", "-c", "orders", "-p", "src=cli", "-p", "k=a b", "hello", "two words"))
	ids = append(ids, lines(mustRun(t, "line1\nline2\r\n\nbin\x01ary", "--config", cfg, "append", "-c", "orders"))...)
	if len(ids) != 6 {
		t.Fatalf("append printed %d ids, want 6: %q", len(ids), ids)
	}
	out := mustRun(t, "", "--config", cfg, "scan", "-c", "orders")
	want := []string{
		ids[0] + "\t" + `k="a b" src=cli` + "\thello",
		ids[1] + "\t" + `k="a b" src=cli` + "\ttwo words",
		ids[2] + "\t-\tline1",
		ids[3] + "\t-\tline2",
		ids[4] + "\t-\t",
		ids[5] + "\t-\t" + `"bin\x01ary"`,
	}
	if got := lines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("scan printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// --after, --limit and json.
	out = mustRun(t, "", "--config", cfg, "scan", "-c", "orders", "--after", ids[0], "--limit", "1", "--format", "json")
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("json %q: %v", out, err)
	}
	if m["id"] != ids[1] || m["payload"] != "two words" || m["channel"] != "orders" {
		t.Fatalf("json = %v", m)
	}
	// --from ID is inclusive; binary payloads come as base64 in json.
	out = mustRun(t, "", "--config", cfg, "scan", "-c", "orders", "--from", ids[5], "--format", "json", "--limit", "1")
	if !strings.Contains(out, `"payload_base64":"YmluAWFyeQ=="`) && !strings.Contains(out, `"payload":"bin\u0001ary"`) {
		t.Fatalf("binary payload printed as %s", out)
	}
	// latest without --follow: nothing new arrives, so nothing is printed.
	if out := mustRun(t, "", "--config", cfg, "scan", "-c", "orders", "--from", "latest", "--idle", "200ms"); out != "" {
		t.Fatalf("--from latest printed %q", out)
	}
	// Other channels are untouched: one never written does not exist, on
	// rmq as on Kafka and Pulsar, and scanning it does not create it.
	for range 2 {
		if r := inproc(t, "", "--config", cfg, "scan", "-c", "other", "--idle", "200ms"); r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "no such channel") {
			t.Fatalf("scan of a channel never written: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	cfg := rmqConfig(t, "none")
	ids := lines(mustRun(t, "", "--config", cfg, "append", "-c", "t", "a", "b", "c"))
	out := mustRun(t, "", "--config", cfg, "truncate", "-c", "t", ids[1])
	if !strings.Contains(out, "truncated t up to and including "+ids[1]) {
		t.Fatalf("truncate printed %q", out)
	}
	out = mustRun(t, "", "--config", cfg, "scan", "-c", "t", "--after", ids[1])
	if got := lines(out); len(got) != 1 || got[0] != ids[2]+"\t-\tc" {
		t.Fatalf("after truncate: %q", got)
	}
	r := inproc(t, "", "--config", cfg, "scan", "-c", "t", "--from", ids[0])
	if r.code != 1 || !strings.Contains(r.stderr, "out of retained range") {
		t.Fatalf("scan below truncation: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	cfg := rmqConfig(t, "none")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--backend", "nosuch", "scan", "-c", "x"}, 1, `walctl: config: --backend: unknown backend "nosuch" (registered: `},
		{[]string{"--config", cfg, "scan", "-c", "x", "--from", "zz"}, 2, `walctl: --from "zz" is not a rmq message id`},
		{[]string{"--config", cfg, "scan"}, 2, `walctl: required flag(s) "channel" not set`},
		{[]string{"--config", cfg, "scan", "-c", "bad/name"}, 1, `walctl: open rmq channel "bad/name": invalid argument: channel name "bad/name": use letters`},
		{[]string{"--config", cfg, "append", "-c", "x", "-p", "novalue", "a"}, 2, `walctl: --property "novalue": want key=value`},
		{[]string{"--config", cfg, "append", "-c", "x", "-p", "_mqwal.term=9", "a"}, 2, `walctl: --property: `},
		{[]string{"--config", cfg, "scan", "-c", "x", "--format", "xml"}, 2, `walctl: --format "xml": want text or json`},
		{[]string{"--config", cfg, "scan", "-c", "x", "--from", "1", "--after", "1"}, 2, `walctl: if any flags in the group [from after] are set none of the others can be`},
		{[]string{"--config", cfg, "bench", "--size", "4"}, 2, `walctl: --size 4: want >= 12`},
		{[]string{"--config", cfg, "bench", "--count", "5", "--duration", "1s"}, 2, `walctl: if any flags in the group [count duration]`},
		{[]string{"--config", cfg, "nosuch"}, 2, `walctl: unknown command "nosuch" for "walctl"`},
		{[]string{"--config", cfg, "scan", "-c", "x", "--bogus"}, 2, `walctl: unknown flag: --bogus`},
		{[]string{"--config", "/nonexistent/mqwal.yaml", "backends"}, 1, `walctl: config: /nonexistent/mqwal.yaml: cannot read file: no such file or directory`},
		{[]string{"--config", cfg, "dev-broker", "zookeeper"}, 2, `walctl: dev-broker "zookeeper": want kafka or pulsar`},
		{[]string{"--config", cfg, "dev-broker"}, 2, `walctl: dev-broker needs the broker to run: kafka or pulsar`},
		{[]string{"--config", cfg, "verify", "--writers", "5", "--channels", "4"}, 2, `walctl: --writers 5: want 1..4 (--channels)`},
		{[]string{"--config", cfg, "verify", "--fault-kinds", "restart", "--faults", "1"}, 2, `walctl: --fault-kinds restart needs a walctl dev-broker`},
		{[]string{"--config", cfg, "verify", "--fault-kinds", "meteor"}, 2, `walctl: --fault-kinds "meteor": want restart, leader-move`},
		{[]string{"--config", cfg, "stat", "--format", "xml"}, 2, `walctl: --format "xml": want text or json`},
		{[]string{"--config", cfg, "conformance", "--run", "NoSuchCase"}, 2, `walctl: --run "NoSuchCase" matches no case`},
	}
	for _, tc := range tests {
		r := inproc(t, "", tc.args...)
		if r.code != tc.code || !strings.HasPrefix(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("walctl %s:\n  exit %d, stderr %q\n  want exit %d, one line starting %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
		if r.stdout != "" && tc.args[len(tc.args)-1] != "backends" {
			t.Errorf("walctl %s printed %q on stdout", strings.Join(tc.args, " "), r.stdout)
		}
	}
}

func TestHelpHasExamples(t *testing.T) {
	t.Parallel()
	root := newRoot(&app{})
	for _, c := range append(root.Commands(), root) {
		if c.Hidden || c.Name() == "help" {
			continue
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		r := inproc(t, "", append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "walctl")), "--help")...)
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") {
			t.Errorf("%s --help: exit %d, no Examples section:\n%s", c.CommandPath(), r.code, r.stdout)
		}
	}
}

func TestBackends(t *testing.T) {
	t.Parallel()
	cfg := rmqConfig(t, "none")
	out := mustRun(t, "", "--config", cfg, "backends")
	for _, re := range []string{
		`(?m)^\* rmq +yes +yes +67108800 B +data in .*/data, sync none$`,
		`(?m)^  memory +no +yes +4194240 B +in this process only$`,
		`(?m)^  kafka +- +- +- +not probed`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("backends output does not match %s:\n%s", re, out)
		}
	}
}

func TestBenchMemoryAndRMQ(t *testing.T) {
	t.Parallel()
	out := mustRun(t, "", "--backend", "memory", "bench", "--channels", "2", "--concurrency", "3", "--count", "300", "--size", "100")
	for _, want := range []string{
		"bench: backend memory", "2 channel(s), 3 appenders round-robin over them, 100-byte payloads, 300 messages", "open: 2 channel(s) in ",
		"append: 300 messages", "append latency: p50 ", "read back: 300 messages",
		"verified: all 300 acked messages read back once each, in order, byte-identical",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, "", "--config", rmqConfig(t, "sync"), "bench", "--count", "200", "--keep")
	if !strings.Contains(out, "verified: all 200 acked") || !strings.Contains(out, "kept channels bench-") {
		t.Errorf("rmq bench:\n%s", out)
	}
	out = mustRun(t, "", "--backend", "memory", "bench", "--duration", "200ms", "--concurrency", "2")
	if !regexp.MustCompile(`verified: all \d+ acked`).MatchString(out) || !strings.Contains(out, "for 200ms") {
		t.Errorf("duration bench:\n%s", out)
	}
}

func TestConformanceMemory(t *testing.T) {
	t.Parallel()
	out := mustRun(t, "", "--backend", "memory", "conformance")
	if !regexp.MustCompile(`(?m)^PASS  RoundTrip +[0-9.]+m?s$`).MatchString(out) || !regexp.MustCompile(`\d+ passed, 0 failed`).MatchString(out) {
		t.Fatalf("conformance output:\n%s", out)
	}
}

func TestConformanceCaseTimeout(t *testing.T) {
	t.Parallel()
	r := inproc(t, "", "--backend", "memory", "conformance", "--run", "^RoundTrip$", "--case-timeout", "0s")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "walctl: --case-timeout 0s: want > 0") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
}
