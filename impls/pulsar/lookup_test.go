package pulsar_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/walimpls"
)

func adminRequest(t *testing.T, b *pulsartest.Broker, method, path, body string) int {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest(method, b.AdminURL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// topicKnown asks the broker's admin endpoint whether it knows the topic
// (404 for an unknown one), independently of the driver.
func topicKnown(t *testing.T, b *pulsartest.Broker, ch string) bool {
	t.Helper()
	return adminRequest(t, b, http.MethodGet, "/admin/v2/persistent/public/default/"+ch+"/messageTTL", "") != http.StatusNotFound
}

// A partitioned topic, created as an admin does, is refused at Open in both
// modes with an error naming the topic and its partition count, and
// nothing is written to its partitions.
func TestPartitionedTopicRefused(t *testing.T) {
	b := startBroker(t)
	for _, n := range []int{1, 3} {
		ch := "partitioned-" + string(rune('0'+n))
		if code := adminRequest(t, b, http.MethodPut, "/admin/v2/persistent/public/default/"+ch+"/partitions", string(rune('0'+n))); code != http.StatusNoContent {
			t.Fatalf("create the partitioned topic: %d", code)
		}
		for _, mode := range []walimpls.AccessMode{walimpls.ReadWrite, walimpls.ReadOnly} {
			_, err := openChannel(t, b, ch, 1, mode)
			want := topicPrefix + ch + " is partitioned (" + string(rune('0'+n)) + " partitions)"
			if !errors.Is(err, walimpls.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
				t.Errorf("open %s %v: %v, want ErrInvalidArgument with %q", ch, mode, err, want)
			}
		}
		for i := range n {
			part := topicPrefix + ch + "-partition-" + string(rune('0'+i))
			if m := b.NumMessages(part); m != 0 {
				t.Errorf("%s holds %d messages", part, m)
			}
		}
	}
	// A channel whose name reads as a partition is refused too.
	if _, err := openChannel(t, b, "orders-partition-0", 1, walimpls.ReadWrite); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Errorf("open orders-partition-0: %v, want ErrInvalidArgument", err)
	}
}

// A ReadOnly open never creates the channel's topic: a missing channel is
// ErrNotFound ("no such channel"), and stays missing.
func TestReadOnlyOpenCreatesNoTopic(t *testing.T) {
	b := startBroker(t)
	_, err := openChannel(t, b, "typo", 1, walimpls.ReadOnly)
	if !errors.Is(err, walimpls.ErrNotFound) || !strings.Contains(err.Error(), "no such channel") || !strings.Contains(err.Error(), topicPrefix+"typo") || walimpls.IsRetryable(err) {
		t.Fatalf("ReadOnly open of a missing channel: %v", err)
	}
	if topicKnown(t, b, "typo") {
		t.Fatal("the ReadOnly open created the topic")
	}
	// A channel that exists opens ReadOnly, also when another client made
	// it, and its scanners read it.
	appendAs(t, b, "made", 1, "m")
	sendPlain(t, rawClient(t, b), topicPrefix+"plain-made", false)
	for _, ch := range []string{"made", "plain-made"} {
		if _, err := openChannel(t, b, ch, 1, walimpls.ReadOnly); err != nil {
			t.Fatalf("ReadOnly open of %s: %v", ch, err)
		}
	}
	r := openWAL(t, b, "made", walimpls.ReadOnly)
	if p := payloads(readN(t, r, walimpls.DeliverAll(), 1)); p != "m " {
		t.Fatalf("read %q", p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := openChannel(t, b, "made", 1, walimpls.ReadOnly); err != nil {
		t.Fatal(err)
	}
	o, err := builder(b).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "made", AccessMode: walimpls.ReadOnly}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with an ended ctx: %v", err)
	}
}
