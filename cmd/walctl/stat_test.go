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

// stat on the default backend, through the binary: the channel's range
// (the fence record the append's open stored first, then the messages),
// the listing, and a channel that does not exist, which stat does not
// create.
func TestStatBinaryRMQ(t *testing.T) {
	t.Parallel()
	cfg := rmqConfig(t, "none")
	ids := lines(runBinary(t, "", "--config", cfg, "append", "-c", "orders", "a", "b", "c").stdout)
	if len(ids) != 3 {
		t.Fatalf("append printed %q", ids)
	}
	want := regexp.MustCompile(`(?m)^CHANNEL +FIRST +LAST +MESSAGES +BYTES +TERM +WRITER +BACKEND NAME\norders +\d+ +` + ids[2] + ` +4 +\d+ +1 +none +channel id \d+\n$`)
	for _, args := range [][]string{{"stat", "-c", "orders"}, {"stat"}} {
		r := runBinary(t, "", append([]string{"--config", cfg}, args...)...)
		if r.code != 0 || !want.MatchString(r.stdout) {
			t.Errorf("%v: exit %d stdout %q stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	r := runBinary(t, "", "--config", cfg, "stat", "-c", "nope")
	if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, `walctl: stat: open channel "nope": no such channel: `) {
		t.Errorf("stat of a missing channel: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, "", "--config", cfg, "stat")
	if r.code != 0 || strings.Contains(r.stdout, "nope") {
		t.Errorf("stat after stat of a missing channel: exit %d stdout %q (the missing channel must not be created)", r.code, r.stdout)
	}
	r = runBinary(t, "", "--config", cfg, "stat", "-c", "bad/name")
	if r.code != 1 || !strings.HasPrefix(r.stderr, `walctl: stat: open channel "bad/name": `) {
		t.Errorf("stat of a bad name: exit %d stderr %q", r.code, r.stderr)
	}
}

// A backend whose driver has no statistics says so (memlossy, a test
// wrapper of the memory driver without StatReader).
func TestStatUnsupported(t *testing.T) {
	t.Parallel()
	r := inproc(t, "", "--backend", "memlossy", "stat", "-c", "orders")
	if r.code != 1 || r.stdout != "" || r.stderr != "walctl: stat: backend memlossy does not report channel statistics (its driver does not implement walimpls.StatReader)\n" {
		t.Errorf("stat -c: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}
