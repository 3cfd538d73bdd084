package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// bench --channels through the binary on rmq: the appends go round-robin
// over the channels (500 over 50: 10 each, plus the fence record the
// open stored, as stat shows), the open cost is reported per channel, and
// every channel is read back and verified.
func TestBenchChannelsBinary(t *testing.T) {
	t.Parallel()
	cfg := rmqConfig(t, "none")
	r := runBinary(t, "", "--config", cfg, "bench", "--channels", "50", "--concurrency", "4", "--count", "500", "--size", "64", "--keep")
	for _, re := range []string{
		`(?m)^bench: backend rmq \(.*\); 50 channel\(s\), 4 appenders round-robin over them, 64-byte payloads, 500 messages$`,
		`(?m)^open: 50 channel\(s\) in [0-9.]+ms: [0-9.]+ms per channel; per channel -?[0-9.]+ KiB heap, -?[0-9.]+ goroutines$`,
		`(?m)^append: 500 messages .* msg/s`,
		`(?m)^append latency: p50 [0-9.]+ms  p99 [0-9.]+ms  max [0-9.]+ms$`,
		`(?m)^verified: all 500 acked messages read back once each, in order, byte-identical$`,
		`(?m)^kept channels bench-[0-9a-f]{8}-0\.\.49$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("bench output does not match %s:\n%s", re, r.stdout)
		}
	}
	if r.code != 0 {
		t.Fatalf("bench: exit %d stderr %q", r.code, r.stderr)
	}
	st := runBinary(t, "", "--config", cfg, "stat", "--format", "json")
	var n int
	for _, l := range lines(st.stdout) {
		var j jsonStat
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if !strings.HasPrefix(j.Channel, "bench-") {
			continue
		}
		n++
		if j.Messages == nil || *j.Messages != 11 {
			t.Errorf("%s holds %v records, want 10 messages and the fence record (round-robin)", j.Channel, j.Messages)
		}
	}
	if n != 50 {
		t.Errorf("stat lists %d bench channels, want 50:\n%s", n, st.stdout)
	}
}

func TestBenchChannelsUsage(t *testing.T) {
	t.Parallel()
	r := runBinary(t, "", "--backend", "memory", "bench", "--channels", "0")
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "walctl: --channels 0: want >= 1") {
		t.Errorf("bench --channels 0: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}
