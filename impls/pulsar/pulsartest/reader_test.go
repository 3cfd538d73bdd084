package pulsartest_test

import (
	"fmt"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
)

// readAll reads from start with the given inclusiveness until HasNext is
// false and returns the payloads.
func readAll(t *testing.T, c pulsar.Client, topic string, start pulsar.MessageID, inclusive bool) []string {
	t.Helper()
	r, err := c.CreateReader(pulsar.ReaderOptions{
		Topic: topic, StartMessageID: start, StartMessageIDInclusive: inclusive,
	})
	if err != nil {
		t.Fatalf("create reader: %v", err)
	}
	defer r.Close()
	var got []string
	for r.HasNext() {
		got = append(got, string(readNext(t, r).Payload()))
	}
	return got
}

func TestReaderStartPositions(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	single := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true, Name: "single"})
	ids := []pulsar.MessageID{send(t, single, "m0"), send(t, single, "m1")}
	batcher := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Name: "batcher"})
	ids = append(ids, sendBatch(t, batcher, "m2", "m3", "m4")...)
	ids = append(ids, send(t, single, "m5"))

	all := []string{"m0", "m1", "m2", "m3", "m4", "m5"}
	cases := []struct {
		name      string
		start     pulsar.MessageID
		inclusive bool
		want      []string
	}{
		{"earliest", pulsar.EarliestMessageID(), false, all},
		{"latest", pulsar.LatestMessageID(), false, nil},
		{"latest inclusive", pulsar.LatestMessageID(), true, []string{"m5"}},
		{"single exclusive", ids[1], false, all[2:]},
		{"single inclusive", ids[1], true, all[1:]},
		{"batch exclusive", ids[3], false, all[4:]},
		{"batch inclusive", ids[3], true, all[3:]},
		{"batch first inclusive", ids[2], true, all[2:]},
		{"batch last exclusive", ids[4], false, all[5:]},
		{"last exclusive", ids[5], false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := readAll(t, c, topic, tc.start, tc.inclusive)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("read %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReaderLatestSeesNewMessages(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	send(t, p, "old")
	r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.LatestMessageID()})
	if err != nil {
		t.Fatalf("create reader: %v", err)
	}
	defer r.Close()
	if r.HasNext() {
		t.Fatal("HasNext at latest before anything new was sent")
	}
	send(t, p, "new")
	if m := readNext(t, r); string(m.Payload()) != "new" {
		t.Fatalf("read %q, want new", m.Payload())
	}
}

func TestGetLastMessageIDEmptyTopic(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatalf("create reader: %v", err)
	}
	defer r.Close()
	if r.HasNext() {
		t.Fatal("HasNext on an empty topic")
	}
	id, err := r.GetLastMessageID()
	if err != nil {
		t.Fatalf("get last message id: %v", err)
	}
	if id.EntryID() != -1 {
		t.Fatalf("last message id of an empty topic is %v, want entry -1", id)
	}
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic})
	ids := sendBatch(t, p, "a", "b")
	id, err = r.GetLastMessageID()
	if err != nil {
		t.Fatalf("get last message id: %v", err)
	}
	if !sameID(id, ids[1]) {
		t.Fatalf("last message id %v, want %v (batch index n-1)", id, ids[1])
	}
}
