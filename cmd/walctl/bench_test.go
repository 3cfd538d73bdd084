package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
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
		`(?m)^open: 50 channel\(s\) in [0-9.]+ms: [0-9.]+ms per channel; per channel (~0|[0-9.]+) KiB heap, -?[0-9.]+ goroutines$`,
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

// benchVerify holds each channel to exactly the sequence numbers acked on
// it, per appender: with appends spread round-robin an appender's numbers
// on one channel have gaps, and a message of the wrong number (lost,
// duplicated, sent to another channel) fails the read back.
func TestBenchVerifyRoundRobin(t *testing.T) {
	o := benchOpts{size: 32, readTimeout: 5 * time.Second}
	ap := &benchAppender{id: 0, block: make([]byte, o.size+64)}
	for i := range ap.block {
		ap.block[i] = byte(i)
	}
	for _, tc := range []struct {
		name   string
		stored []uint64 // appender 0's messages in the channel
		want   string   // "" or the error's gist
	}{
		{"every other one", []uint64{0, 2, 4}, ""},
		{"lost", []uint64{0, 4}, "appender 0's #4, want #2"},
		{"duplicated", []uint64{0, 2, 2, 4}, "appender 0's #2, want #4"},
		{"one more", []uint64{0, 2, 4, 6}, "unexpected message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opener, err := adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(memory.NewStore()))).Build()
			if err != nil {
				t.Fatal(err)
			}
			defer opener.Close()
			ctx := context.Background()
			w, err := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "c", Term: 1, AccessMode: wal.ReadWrite}})
			if err != nil {
				t.Fatal(err)
			}
			for _, seq := range tc.stored {
				if _, err := w.Append(ctx, message.NewMutableMessage(ap.payload(seq, o.size), nil)); err != nil {
					t.Fatal(err)
				}
			}
			var n atomic.Int64
			err = (&app{}).benchVerify(ctx, opener, &benchChannel{name: "c"}, []*benchAppender{ap}, map[int][]uint64{0: {0, 2, 4}}, o, &n)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("benchVerify: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("benchVerify = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
