package pulsartest_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
)

func adminPut(t *testing.T, b *pulsartest.Broker, path, body string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest(http.MethodPut, b.AdminURL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(out))
}

// An admin creates a partitioned topic with the real broker's REST call;
// clients then see its partition count, produce to and consume from its
// partitions, and the metadata survives a restart.
func TestPartitionedTopic(t *testing.T) {
	for _, disk := range []bool{false, true} {
		t.Run(fmt.Sprintf("disk=%v", disk), func(t *testing.T) {
			var opts []pulsartest.Option
			if disk {
				opts = append(opts, pulsartest.WithDataDir(t.TempDir()))
			}
			b := startBroker(t, opts...)
			topic := fmt.Sprintf("persistent://public/default/partitioned-%v", disk)
			path := "/admin/v2/persistent/" + strings.TrimPrefix(topic, "persistent://") + "/partitions"
			if code, body := adminPut(t, b, path, "3"); code != http.StatusNoContent {
				t.Fatalf("create: %d %s", code, body)
			}
			for _, c := range []struct {
				path, body string
				want       int
			}{
				{path, "3", http.StatusConflict},
				{path, "2", http.StatusConflict},
				{strings.Replace(path, "/partitions", "x/partitions", 1), "0", http.StatusNotAcceptable},
				{strings.Replace(path, "/partitions", "-partition-1/partitions", 1), "2", http.StatusPreconditionFailed},
				{strings.Replace(path, "/partitions", "y/partitions", 1), "two", http.StatusBadRequest},
			} {
				if code, body := adminPut(t, b, c.path, c.body); code != c.want {
					t.Errorf("PUT %s %s: %d %s, want %d", c.path, c.body, code, body, c.want)
				}
			}
			if code, body := adminGet(t, b, strings.TrimSuffix(path, "/partitions")+"x/partitions"); code != http.StatusOK || body != `{"partitions":0}` {
				t.Errorf("GET partitions of an unknown topic: %d %s", code, body)
			}
			if err := b.CreatePartitionedTopic(topic, 2); !errors.Is(err, pulsartest.ErrTopicExists) {
				t.Errorf("CreatePartitionedTopic again: %v", err)
			}

			c := newClient(t, b)
			parts, err := c.TopicPartitions(topic)
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != 3 || parts[2] != topic+"-partition-2" {
				t.Fatalf("TopicPartitions: %v", parts)
			}
			p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
			for i := range 9 {
				if _, err := p.Send(ctxTimeout(t), &pulsar.ProducerMessage{Payload: []byte{byte(i)}, Key: fmt.Sprint(i)}); err != nil {
					t.Fatal(err)
				}
			}
			total := 0
			for _, part := range parts {
				total += b.NumMessages(part)
			}
			if total != 9 || b.NumMessages(topic) != 0 {
				t.Fatalf("%d messages in the partitions, %d under the name, want 9 and 0", total, b.NumMessages(topic))
			}
			p.Close()
			if err := b.Restart(); err != nil {
				t.Fatal(err)
			}
			cons, err := c.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "s", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			seen := map[string]bool{}
			for range 9 {
				seen[receive(t, cons).Key()] = true
			}
			if len(seen) != 9 {
				t.Fatalf("consumed keys %v", seen)
			}
			if parts, err := c.TopicPartitions(topic); err != nil || len(parts) != 3 {
				t.Fatalf("after restart: TopicPartitions %v, %v", parts, err)
			}
		})
	}
}

// A topic that exists non-partitioned cannot become partitioned.
func TestPartitionedTopicOverExistingTopic(t *testing.T) {
	b := startBroker(t)
	topic := newTopic(t)
	newProducer(t, newClient(t, b), pulsar.ProducerOptions{Topic: topic})
	if err := b.CreatePartitionedTopic(topic, 2); !errors.Is(err, pulsartest.ErrTopicExists) {
		t.Fatalf("CreatePartitionedTopic over a topic: %v", err)
	}
	if err := b.CreatePartitionedTopic("public/default", 2); !errors.Is(err, pulsartest.ErrInvalidPartitions) {
		t.Fatalf("CreatePartitionedTopic of a namespace: %v", err)
	}
}

// A pattern consumer subscribes only to the topics that exist (it lists
// the namespace, then subscribes with force_topic_creation=false): nothing
// is created for a name that matches none.
func TestPatternConsumerCreatesNoTopic(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	pattern := func(name string) []pulsar.TopicMessageID {
		t.Helper()
		cons, err := c.Subscribe(pulsar.ConsumerOptions{
			TopicsPattern: "persistent://public/default/" + name + "$", SubscriptionName: "probe",
			SubscriptionMode: pulsar.NonDurable,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer cons.Close()
		ids, err := cons.GetLastMessageIDs()
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if ids := pattern("missing"); len(ids) != 0 {
		t.Fatalf("a missing topic matched: %v", ids)
	}
	newProducer(t, c, pulsar.ProducerOptions{Topic: "persistent://public/default/present"})
	if ids := pattern("present"); len(ids) != 1 {
		t.Fatalf("an existing topic matched %d times", len(ids))
	}
	if ids := pattern("missing"); len(ids) != 0 {
		t.Fatalf("the missing topic was created by the first probe: %v", ids)
	}
}
