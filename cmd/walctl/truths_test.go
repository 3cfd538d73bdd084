package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// squash folds whitespace, so help text can be matched across line wraps.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// What walctl says about itself is true (issue 19).
func TestHelpTellsTheTruth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cmd  []string
		want []string
	}{
		{[]string{"scan", "--help"}, []string{
			"On rmq, the embedded store, one process at a time uses a data directory: scan --follow there sees only what it was started with, never another process's appends",
			"without --follow, at the newest message the channel had when scan started, at once",
		}},
		{[]string{"dev-broker", "--help"}, []string{
			"the kafka broker keeps it in a temporary directory, removed when it stops; the pulsar broker keeps it in memory",
			"With --config-out FILE it also writes that config to FILE, atomically and only once the broker accepts connections",
		}},
		{[]string{"backends", "--help"}, []string{"in bytes of payload plus property keys and values", "backends writes nothing to the data directory, nor creates it"}},
		{[]string{"truncate", "--help"}, []string{"only mark it for deletion by the broker's own retention"}},
		{[]string{"bench", "--help"}, []string{"prints what it measured so far, leaves its channels as they are"}},
	} {
		r := inproc(t, "", tc.cmd...)
		for _, w := range tc.want {
			if r.code != 0 || !strings.Contains(squash(r.stdout), w) {
				t.Errorf("walctl %s: exit %d, does not say %q:\n%s", strings.Join(tc.cmd, " "), r.code, w, r.stdout)
			}
		}
	}
}

// The README's examples are ones that work: the dev-broker lines wait for
// the config file, and nothing suggests tailing rmq from another process.
func TestREADMEExamples(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, want := range []string{
		"dev-broker kafka --config-out kafka.yaml &",
		"while [ ! -e kafka.yaml ]; do sleep 0.2; done",
		"one process per data directory",
		"67,108,800",
		"walctl verify",
		"walctl stat",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README does not contain %q", want)
		}
	}
	for _, bad := range []string{"> kafka.yaml &", "--follow   # tail until Ctrl-C", "max message 64 MiB", "no backend offers a \"last ID\""} {
		if strings.Contains(readme, bad) {
			t.Errorf("README still says %q", bad)
		}
	}
}

// backends writes nothing: run where the default rmq directory would be.
func TestBackendsWritesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(walctlBin, "backends")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("backends: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^\* rmq +yes +yes +67108800 B +data in \./mqwal-data, sync sync$`).Match(out) {
		t.Errorf("backends:\n%s", out)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("backends left %v in its working directory", entries)
	}
}

// The limit backends prints is the one append enforces: exactly that many
// bytes of payload pass, one more does not.
func TestMaxMessageIsEnforcedLimit(t *testing.T) {
	t.Parallel()
	out := mustRun(t, "", "--backend", "memory", "backends")
	m := regexp.MustCompile(`(?m)^\* memory +no +yes +(\d+) B `).FindStringSubmatch(out)
	if m == nil || m[1] != "4194240" {
		t.Fatalf("backends:\n%s", out)
	}
	payload := strings.Repeat("x", 4194240)
	if r := inproc(t, payload+"\n", "--backend", "memory", "append", "-c", "max-size"); r.code != 0 {
		t.Fatalf("a payload of exactly the printed limit: exit %d, %s", r.code, r.stderr)
	}
	r := inproc(t, payload+"y\n", "--backend", "memory", "append", "-c", "max-size")
	if r.code != 1 || !strings.Contains(r.stderr, "message too large") {
		t.Fatalf("one byte more: exit %d, %s", r.code, r.stderr)
	}
}

// The memory backend says, once, that nothing outlives the process.
func TestMemoryWarnsOnce(t *testing.T) {
	t.Parallel()
	r := runBinary(t, "", "--backend", "memory", "bench", "--count", "50", "--channels", "2")
	if r.code != 0 || strings.Count(r.stderr, "backend memory keeps everything in this process; nothing outlives it") != 1 {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// scan --format json keeps every byte of property keys and values: those
// that are not UTF-8 come base64-encoded, and two such keys stay two.
func TestScanJSONKeepsPropertyBytes(t *testing.T) {
	t.Parallel()
	cfg := rmqConfig(t, "none")
	mustRun(t, "", "--config", cfg, "append", "-c", "bytes", "-p", "\xff=a", "-p", "\xfe=b", "-p", "k=v\xff", "-p", "ok=fine", "payload")
	out := mustRun(t, "", "--config", cfg, "scan", "-c", "bytes", "--format", "json")
	var j jsonMessage
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	want := map[string]string{b64("\xff"): b64("a"), b64("\xfe"): b64("b"), b64("k"): b64("v\xff")}
	if len(j.Properties) != 1 || j.Properties["ok"] != "fine" || len(j.PropertiesBase64) != 3 {
		t.Fatalf("json: %s", out)
	}
	for k, v := range want {
		if j.PropertiesBase64[k] != v {
			t.Errorf("properties_base64[%s] = %q, want %q (json %s)", k, j.PropertiesBase64[k], v, out)
		}
	}
	// Text keeps them quoted, as before.
	text := mustRun(t, "", "--config", cfg, "scan", "-c", "bytes")
	if !strings.Contains(text, `"\xff"=a`) || !strings.Contains(text, `k="v\xff"`) {
		t.Errorf("text: %q", text)
	}
}

// dev-broker --config-out: the file appears complete once the broker
// serves, names the control endpoint, and goes when the broker stops.
func TestDevBrokerConfigOut(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kafka.yaml")
	if err := os.WriteFile(path, []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "dev-broker", "kafka", "--addr", "127.0.0.1:0", "--config-out", path)
	deadline := time.Now().Add(60 * time.Second)
	var data []byte
	for {
		data, _ = os.ReadFile(path)
		if strings.Contains(string(data), "backend: kafka") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("config-out never written; it holds %q; stderr %s", data, p.stderr)
		}
		time.Sleep(20 * time.Millisecond) // polling a file: there is nothing to wait on
	}
	control, err := controlFromConfig(path)
	if err != nil || !strings.HasPrefix(control, "http://127.0.0.1:") {
		t.Fatalf("control line: %q, %v in\n%s", control, err, data)
	}
	resp, err := http.Get(control + "/faults")
	if err != nil {
		t.Fatal(err)
	}
	var l faultList
	err = json.NewDecoder(resp.Body).Decode(&l)
	resp.Body.Close()
	if err != nil || l.Broker != "kafka" || strings.Join(l.Faults, ",") != "restart,leader-move,drop-connections,lose-response" {
		t.Fatalf("GET /faults: %+v, %v", l, err)
	}
	resp, err = http.Post(control+"/faults/meteor", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown fault: %s", resp.Status)
	}
	// The config works as written.
	if r := runBinary(t, "", "--config", path, "append", "-c", "cfgout", "x"); r.code != 0 {
		t.Fatalf("append through --config-out's file: %s", r.stderr)
	}
	if code, _ := p.signalStop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("config-out still there after the broker stopped: %v", err)
	}
}

// Without --follow, scan ends at the newest message there was when it
// started, at once: not after --idle (here a minute), also when that newest
// record is a fence record scan does not show.
func TestScanEndsAtNewest(t *testing.T) {
	t.Parallel()
	cfg := rmqConfig(t, "none")
	ids := lines(mustRun(t, "", "--config", cfg, "append", "-c", "end", "a", "b", "c"))
	mustRun(t, "", "--config", cfg, "truncate", "-c", "end", ids[0]) // its open stores a fence record after c
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "-c", "end"}, ids[1] + "\t-\tb\n" + ids[2] + "\t-\tc\n"},
		{[]string{"scan", "-c", "end", "--after", ids[2]}, ""},
		{[]string{"scan", "-c", "end", "--from", "latest"}, ""},
	} {
		start := time.Now()
		r := runBinary(t, "", append([]string{"--config", cfg}, append(tc.args, "--idle", "1m")...)...)
		if took := time.Since(start); r.code != 0 || r.stdout != tc.want || took > 20*time.Second {
			t.Errorf("walctl %s: exit %d in %s, stdout %q, want %q; stderr %s", strings.Join(tc.args, " "), r.code, took, r.stdout, tc.want, r.stderr)
		}
	}
	// A channel never written does not exist: an error at once, not a wait.
	start := time.Now()
	r := runBinary(t, "", "--config", cfg, "scan", "-c", "never-written", "--idle", "1m")
	if took := time.Since(start); r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "no such channel") || took > 20*time.Second {
		t.Errorf("walctl scan -c never-written: exit %d in %s, stdout %q; stderr %s", r.code, took, r.stdout, r.stderr)
	}
}

// The hint about another process holding rmq's data directory comes only
// with that error, not with a path that is a file.
func TestRMQHintsFit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(cfg, []byte("backend: rmq\nrmq:\n  path: "+file+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, "", "--config", cfg, "append", "-c", "x", "a")
	if r.code != 1 || !strings.Contains(r.stderr, "not a directory") || strings.Contains(r.stderr, "one process per data directory") {
		t.Errorf("data directory is a file: exit %d, stderr %q", r.code, r.stderr)
	}
	held := rmqConfig(t, "none")
	mustRun(t, "", "--config", held, "append", "-c", "x", "a")
	p := start(t, "--config", held, "scan", "-c", "x", "--follow")
	p.next(t, 30*time.Second)
	r = runBinary(t, "", "--config", held, "append", "-c", "x", "b")
	if r.code != 1 || !strings.Contains(r.stderr, "(rmq allows one process per data directory: stop the other one, or use a broker backend)") {
		t.Errorf("directory held by another process: exit %d, stderr %q", r.code, r.stderr)
	}
}
