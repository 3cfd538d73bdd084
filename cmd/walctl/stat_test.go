package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// stat through a driver that implements walimpls.StatReader and
// ChannelLister (memstat, a test wrapper of the memory driver).
func TestStatMemstat(t *testing.T) {
	t.Parallel()
	ids := lines(mustRun(t, "", "--backend", "memstat", "append", "-c", "stat-a", "one", "two", "three"))
	mustRun(t, "", "--backend", "memstat", "append", "-c", "stat-b", "x")

	// Opening for append stored a fence record first: 4 records, the fence
	// before the first message.
	out := mustRun(t, "", "--backend", "memstat", "stat", "-c", "stat-a")
	want := regexp.MustCompile(`(?m)^CHANNEL +FIRST +LAST +MESSAGES +BYTES +TERM +WRITER +BACKEND NAME\nstat-a +\d+ +` + ids[2] + ` +4 +\? +1 +none +memory/stat-a\n$`)
	if !want.MatchString(out) {
		t.Fatalf("stat -c stat-a:\n%s", out)
	}

	out = mustRun(t, "", "--backend", "memstat", "stat", "--format", "json")
	var got []jsonStat
	for _, l := range lines(out) {
		var j jsonStat
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, j)
	}
	if len(got) < 2 || got[0].Channel > got[1].Channel {
		t.Fatalf("stat --format json lists %v", got)
	}
	for _, j := range got {
		if j.Channel != "stat-a" {
			continue
		}
		if j.Last == nil || *j.Last != ids[2] || j.Messages == nil || *j.Messages != 4 || j.Bytes != nil || j.Term == nil || *j.Term != 1 ||
			j.Writer != "none" || j.BackendName != "memory/stat-a" {
			t.Errorf("stat-a in json: %+v", j)
		}
	}
	if !strings.Contains(out, `"channel":"stat-b"`) || !strings.Contains(out, `"bytes":null`) {
		t.Errorf("stat --format json:\n%s", out)
	}
}

// A backend whose driver has no statistics says so, through the binary.
func TestStatBinaryUnsupported(t *testing.T) {
	t.Parallel()
	cfg := rmqConfig(t, "none")
	r := runBinary(t, "", "--config", cfg, "stat", "-c", "orders")
	if r.code != 1 || r.stdout != "" || r.stderr != "walctl: stat: backend rmq does not report channel statistics (its driver does not implement walimpls.StatReader)\n" {
		t.Errorf("stat -c: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, "", "--config", cfg, "stat")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "walctl: stat: backend rmq cannot list its channels (its driver does not implement walimpls.ChannelLister); name one with -c CHANNEL") {
		t.Errorf("stat: exit %d stderr %q", r.code, r.stderr)
	}
	r = runBinary(t, "", "--config", cfg, "stat", "-c", "bad/name")
	if r.code != 1 || !strings.HasPrefix(r.stderr, `walctl: stat: open channel "bad/name": `) {
		t.Errorf("stat of a bad name: exit %d stderr %q", r.code, r.stderr)
	}
}
