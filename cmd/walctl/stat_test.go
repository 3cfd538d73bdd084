package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// stat on the memory backend (walimpls.StatReader and ChannelLister),
// in-process so that the channels outlive one command.
var statMemoryRuns atomic.Int64

func TestStatMemory(t *testing.T) {
	t.Parallel()
	// The memory backend lives as long as the process: names of their own
	// per run keep -count N from finding the channels of the run before.
	run := statMemoryRuns.Add(1)
	a, b := fmt.Sprintf("stat-a%d", run), fmt.Sprintf("stat-b%d", run)
	ids := lines(mustRun(t, "", "--backend", "memory", "append", "-c", a, "one", "two", "three"))
	mustRun(t, "", "--backend", "memory", "append", "-c", b, "x")

	// Opening for append stored a fence record first: 4 records, the fence
	// before the first message; bytes are payloads and properties.
	out := mustRun(t, "", "--backend", "memory", "stat", "-c", a)
	want := regexp.MustCompile(`(?m)^CHANNEL +FIRST +LAST +MESSAGES +BYTES +TERM +WRITER +BACKEND NAME\n` + a + ` +\d+ +` + ids[2] + ` +4 +[1-9]\d* +1 +none +-\n$`)
	if !want.MatchString(out) {
		t.Fatalf("stat -c %s:\n%s", a, out)
	}

	out = mustRun(t, "", "--backend", "memory", "stat", "--format", "json")
	var got []jsonStat
	for _, l := range lines(out) {
		var j jsonStat
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, j)
	}
	if !slices.IsSortedFunc(got, func(a, b jsonStat) int { return strings.Compare(a.Channel, b.Channel) }) {
		t.Fatalf("stat --format json is not sorted: %v", got)
	}
	seen := 0
	for _, j := range got {
		switch j.Channel {
		case a:
			seen++
			if j.Last == nil || *j.Last != ids[2] || j.Messages == nil || *j.Messages != 4 || j.Bytes == nil || *j.Bytes < int64(len("onetwothree")) ||
				j.Term == nil || *j.Term != 1 || j.Writer != "none" || j.BackendName != "" {
				t.Errorf("stat-a in json: %+v", j)
			}
		case b:
			seen++
			if j.Messages == nil || *j.Messages != 2 {
				t.Errorf("stat-b in json: %+v", j)
			}
		}
	}
	if seen != 2 {
		t.Errorf("stat --format json lacks stat-a or stat-b:\n%s", out)
	}
	r := inproc(t, "", "--backend", "memory", "stat", "-c", "stat-never")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "\nwalctl: stat: open memory channel \"stat-never\": no such channel: ") {
		t.Errorf("stat of a missing channel: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
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
	if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, `walctl: stat: open rmq channel "nope": no such channel: `) {
		t.Errorf("stat of a missing channel: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, "", "--config", cfg, "stat")
	if r.code != 0 || strings.Contains(r.stdout, "nope") {
		t.Errorf("stat after stat of a missing channel: exit %d stdout %q (the missing channel must not be created)", r.code, r.stdout)
	}
	r = runBinary(t, "", "--config", cfg, "stat", "-c", "bad/name")
	if r.code != 1 || !strings.HasPrefix(r.stderr, `walctl: stat: open rmq channel "bad/name": invalid argument: channel name "bad/name": `) {
		t.Errorf("stat of a bad name: exit %d stderr %q", r.code, r.stderr)
	}
}

// A backend whose driver has no statistics says so (memlossy, a test
// wrapper of the memory driver without StatReader and ChannelLister).
func TestStatUnsupported(t *testing.T) {
	t.Parallel()
	mustRun(t, "", "--backend", "memlossy", "append", "-c", "stat-unsupported", "x")
	r := inproc(t, "", "--backend", "memlossy", "stat", "-c", "stat-unsupported")
	if r.code != 1 || r.stdout != "" || r.stderr != "walctl: stat: backend memlossy does not report channel statistics (its driver does not implement walimpls.StatReader)\n" {
		t.Errorf("stat -c: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = inproc(t, "", "--backend", "memlossy", "stat")
	if r.code != 1 || r.stdout != "" || r.stderr != "walctl: stat: backend memlossy cannot list its channels (its driver does not implement walimpls.ChannelLister); name one with -c CHANNEL\n" {
		t.Errorf("stat: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}
