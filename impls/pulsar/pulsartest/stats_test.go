package pulsartest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
)

type testTopicStats struct {
	StorageSize int64 `json:"storageSize"`
	Publishers  []struct {
		ProducerName string `json:"producerName"`
		AccessMode   string `json:"accessMode"`
	} `json:"publishers"`
	Subscriptions map[string]struct {
		MsgBacklog int64 `json:"msgBacklog"`
		IsDurable  bool  `json:"isDurable"`
	} `json:"subscriptions"`
}

type testInternalStats struct {
	NumberOfEntries      int64  `json:"numberOfEntries"`
	TotalSize            int64  `json:"totalSize"`
	CurrentLedgerEntries int64  `json:"currentLedgerEntries"`
	CurrentLedgerSize    int64  `json:"currentLedgerSize"`
	LastConfirmedEntry   string `json:"lastConfirmedEntry"`
	State                string `json:"state"`
	Ledgers              []struct {
		LedgerID int64 `json:"ledgerId"`
		Entries  int64 `json:"entries"`
		Size     int64 `json:"size"`
	} `json:"ledgers"`
	Cursors map[string]struct {
		MarkDeletePosition string `json:"markDeletePosition"`
	} `json:"cursors"`
}

func adminJSON(t *testing.T, code int, body string, v any) {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("admin answer %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("admin answer %s: %v", body, err)
	}
}

// The stats of a topic as a real broker reports them: the producers, the
// durable subscriptions' backlog, the retained entries by ledger (the
// current ledger's counted apart, as it is open), the mark-delete position;
// and what trimming a ledger does to them.
func TestAdminTopicStats(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	path := "/admin/v2/persistent/" + strings.TrimPrefix(topic, "persistent://")
	cons, err := c.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest, AckWithResponse: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	p := newProducer(t, c, pulsar.ProducerOptions{Topic: topic, Name: "p1", ProducerAccessMode: pulsar.ProducerAccessModeExclusive, DisableBatching: true})
	var ids []pulsar.MessageID
	for i := range 3 {
		ids = append(ids, send(t, p, fmt.Sprint("m", i)))
	}
	b.RollLedgers()
	for i := 3; i < 5; i++ {
		ids = append(ids, send(t, p, fmt.Sprint("m", i)))
	}
	for range 2 {
		m := receive(t, cons)
		if err := cons.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	l1, l2 := ids[0].LedgerID(), ids[3].LedgerID()

	var st testTopicStats
	code, body := adminGet(t, b, path+"/stats")
	adminJSON(t, code, body, &st)
	if len(st.Publishers) != 1 || st.Publishers[0].ProducerName != "p1" || st.Publishers[0].AccessMode != "Exclusive" ||
		st.Subscriptions["sub"].MsgBacklog != 3 || !st.Subscriptions["sub"].IsDurable || st.StorageSize <= 0 {
		t.Fatalf("stats: %s", body)
	}
	var is testInternalStats
	code, body = adminGet(t, b, path+"/internalStats")
	adminJSON(t, code, body, &is)
	if is.NumberOfEntries != 5 || is.TotalSize != st.StorageSize || is.CurrentLedgerEntries != 2 || is.CurrentLedgerSize <= 0 ||
		is.LastConfirmedEntry != fmt.Sprintf("%d:1", l2) || is.State != "LedgerOpened" ||
		len(is.Ledgers) != 2 || is.Ledgers[0].LedgerID != l1 || is.Ledgers[0].Entries != 3 || is.Ledgers[0].Size+is.CurrentLedgerSize != is.TotalSize ||
		is.Ledgers[1].LedgerID != l2 || is.Ledgers[1].Entries != 0 || is.Ledgers[1].Size != 0 ||
		is.Cursors["sub"].MarkDeletePosition != fmt.Sprintf("%d:1", l1) {
		t.Fatalf("internalStats (ledgers %d, %d): %s", l1, l2, body)
	}

	// Acknowledging the first ledger's last entry lets the broker delete it.
	if err := cons.Ack(receive(t, cons)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first ledger deleted", func() bool {
		code, body = adminGet(t, b, path+"/internalStats")
		is = testInternalStats{}
		adminJSON(t, code, body, &is)
		return is.NumberOfEntries == 2
	})
	if len(is.Ledgers) != 1 || is.Ledgers[0].LedgerID != l2 || is.TotalSize != is.CurrentLedgerSize || is.Cursors["sub"].MarkDeletePosition != fmt.Sprintf("%d:2", l1) {
		t.Fatalf("internalStats after the first ledger went: %s", body)
	}

	p.Close()
	st = testTopicStats{}
	code, body = adminGet(t, b, path+"/stats")
	adminJSON(t, code, body, &st)
	if len(st.Publishers) != 0 || st.Subscriptions["sub"].MsgBacklog != 2 {
		t.Fatalf("stats after the producer closed: %s", body)
	}
	for _, what := range []string{"stats", "internalStats"} {
		if code, body := adminGet(t, b, "/admin/v2/persistent/public/default/never-created/"+what); code != http.StatusNotFound ||
			body != `{"reason":"Topic persistent://public/default/never-created not found"}` {
			t.Errorf("%s of an unknown topic: %d %s", what, code, body)
		}
	}
}

// A fresh topic's internal stats: no entries, the current ledger at -1.
func TestAdminInternalStatsOfEmptyTopic(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	newProducer(t, c, pulsar.ProducerOptions{Topic: topic})
	var is testInternalStats
	code, body := adminGet(t, b, "/admin/v2/persistent/"+strings.TrimPrefix(topic, "persistent://")+"/internalStats")
	adminJSON(t, code, body, &is)
	if is.NumberOfEntries != 0 || is.TotalSize != 0 || len(is.Ledgers) != 1 || is.LastConfirmedEntry != fmt.Sprintf("%d:-1", is.Ledgers[0].LedgerID) {
		t.Fatalf("internalStats of an empty topic: %s", body)
	}
}

// The topic list of a namespace names its topics, partitions by their own
// names; a namespace without topics has an empty list.
func TestAdminTopicList(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	newProducer(t, c, pulsar.ProducerOptions{Topic: "persistent://public/default/a"})
	newProducer(t, c, pulsar.ProducerOptions{Topic: "persistent://public/other/b"})
	if err := b.CreatePartitionedTopic("persistent://public/default/p", 2); err != nil {
		t.Fatal(err)
	}
	var names []string
	code, body := adminGet(t, b, "/admin/v2/persistent/public/default")
	adminJSON(t, code, body, &names)
	if want := []string{"persistent://public/default/a", "persistent://public/default/p-partition-0", "persistent://public/default/p-partition-1"}; !slices.Equal(names, want) {
		t.Fatalf("topics of public/default: %s, want %q", body, want)
	}
	if code, body := adminGet(t, b, "/admin/v2/persistent/public/none"); code != http.StatusOK || body != "[]" {
		t.Fatalf("topics of a namespace without topics: %d %s", code, body)
	}
}
