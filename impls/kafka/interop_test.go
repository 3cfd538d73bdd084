package kafka

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// kcatPath finds kcat (Debian package kcat). Without it the test skips,
// unless CI is set: then a missing kcat is a broken CI image.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("kcat is not on PATH but CI=%q: install the Debian package kcat (apt-get install -y kcat)", os.Getenv("CI"))
	}
	t.Skip("kcat is not on PATH: install the Debian package kcat to run the interop test")
	return ""
}

type kcatRecord struct {
	Offset  int64
	Payload string
	Headers map[string]string
}

// kcatConsume reads topic from the beginning to its end with kcat -J.
func kcatConsume(t *testing.T, kcat, broker, topic string) []kcatRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-J", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	var recs []kcatRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var raw struct {
			Offset  int64           `json:"offset"`
			Payload *string         `json:"payload"`
			Headers json.RawMessage `json:"headers"`
		}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("kcat line %q: %v", sc.Text(), err)
		}
		r := kcatRecord{Offset: raw.Offset, Headers: map[string]string{}}
		if raw.Payload != nil {
			r.Payload = *raw.Payload
		}
		// kcat prints headers as a flat ["name", "value", ...] array.
		var flat []*string
		if len(raw.Headers) > 0 && json.Unmarshal(raw.Headers, &flat) == nil {
			for i := 0; i+1 < len(flat); i += 2 {
				v := ""
				if flat[i+1] != nil {
					v = *flat[i+1]
				}
				r.Headers[*flat[i]] = v
			}
		}
		if _, fence := r.Headers[fenceHeader]; fence {
			continue
		}
		recs = append(recs, r)
	}
	return recs
}

func kcatProduce(t *testing.T, kcat, broker, topic string, lines []string, headers ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := []string{"-P", "-b", broker, "-t", topic}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	cmd := exec.CommandContext(ctx, kcat, args...)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
}

// TestKcatInterop: a third-party client reads what the driver wrote (value
// and headers intact) and the driver reads what it produced.
func TestKcatInterop(t *testing.T) {
	kcat := kcatPath(t)
	c := startCluster(t)
	broker := c.Addrs()[0]
	o := newOpener(t, c, WithTopicPrefix("interop."))

	ch := channelName(t)
	w := open(t, o, ch, 1, walimpls.ReadWrite)
	want := []struct {
		payload string
		props   message.Properties
	}{
		{"alpha", message.Properties{"trace": "t-1", "kind": "a=b"}},
		{"beta gamma ✓", nil},
		{"", message.Properties{"empty": ""}},
	}
	var offs []int64
	for _, m := range want {
		offs = append(offs, mustAppend(t, w, m.payload, m.props))
	}
	got := kcatConsume(t, kcat, broker, "interop."+ch)
	if len(got) != len(want) {
		t.Fatalf("kcat read %d records, want %d: %+v", len(got), len(want), got)
	}
	for i, r := range got {
		if r.Offset != offs[i] || r.Payload != want[i].payload || len(r.Headers) != len(want[i].props) {
			t.Errorf("kcat record %d: %+v, want offset %d payload %q headers %v", i, r, offs[i], want[i].payload, want[i].props)
		}
		for k, v := range want[i].props {
			if r.Headers[k] != v {
				t.Errorf("kcat record %d header %q = %q, want %q", i, k, r.Headers[k], v)
			}
		}
	}

	// kcat -> driver, in a topic that holds no mqwal record at all.
	ch2 := channelName(t)
	createTopic(t, o, ch2)
	ro := open(t, o, ch2, 0, walimpls.ReadOnly)
	kcatProduce(t, kcat, broker, "interop."+ch2, []string{"one", "two", "three"}, "src=kcat")
	msgs := readN(t, ro, walimpls.DeliverAll(), 3)
	for i, p := range []string{"one", "two", "three"} {
		if string(msgs[i].Payload()) != p || msgs[i].Properties()["src"] != "kcat" || len(msgs[i].Properties()) != 1 {
			t.Errorf("driver read %q %v, want %q {src: kcat}", msgs[i].Payload(), msgs[i].Properties(), p)
		}
	}
	// A writer can claim a topic other producers wrote to.
	rw := open(t, o, ch2, 1, walimpls.ReadWrite)
	mustAppend(t, rw, "four", nil)
	if got := kcatConsume(t, kcat, broker, "interop."+ch2); len(got) != 4 || got[3].Payload != "four" {
		t.Fatalf("kcat after the driver appended to its topic: %+v", got)
	}
}
