package pulsartest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
)

func adminGet(t *testing.T, b *pulsartest.Broker, path string) (int, string) {
	t.Helper()
	// No keep-alive: an idle connection's goroutines would outlive the test.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(b.AdminURL() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}

func TestAdminPolicies(t *testing.T) {
	b := startBroker(t)
	c := newClient(t, b)
	topic := newTopic(t)
	newProducer(t, c, pulsar.ProducerOptions{Topic: topic}) // the topic exists
	path := "/admin/v2/persistent/" + strings.TrimPrefix(topic, "persistent://")
	mustSetPolicies(t, b, "public/default", pulsartest.Policies{
		MessageTTLSeconds:             new(300),
		SubscriptionExpirationMinutes: new(60),
		BacklogQuotas: map[pulsartest.BacklogQuotaType]pulsartest.BacklogQuota{
			pulsartest.DestinationStorage: {LimitSize: 1 << 30, Policy: pulsartest.ConsumerBacklogEviction},
		},
	})
	mustSetPolicies(t, b, topic, pulsartest.Policies{Retention: &pulsartest.Retention{TimeInMinutes: -1, SizeInMB: 100}})
	for _, c := range []struct {
		path, body string
		code       int
	}{
		{"/admin/v2/namespaces/public/default/messageTTL", "300", 200},
		{"/admin/v2/namespaces/public/default/subscriptionExpirationTime", "60", 200},
		{"/admin/v2/namespaces/public/default/retention", "", 204},
		{"/admin/v2/namespaces/public/default/backlogQuotaMap", `{"destination_storage":{"limitSize":1073741824,"limitTime":0,"policy":"consumer_backlog_eviction"}}`, 200},
		{"/admin/v2/namespaces/other/ns/messageTTL", "", 204},
		{path + "/messageTTL", "", 204}, // not set on the topic
		{path + "/messageTTL?applied=true", "300", 200},
		{path + "/retention", `{"retentionTimeInMinutes":-1,"retentionSizeInMB":100}`, 200},
		{path + "/backlogQuotaMap", `{}`, 200},
		{path + "/backlogQuotaMap?applied=true", `{"destination_storage":{"limitSize":1073741824,"limitTime":0,"policy":"consumer_backlog_eviction"}}`, 200},
		{"/admin/v2/persistent/public/default/never-created/messageTTL?applied=true", `{"reason":"Topic persistent://public/default/never-created not found"}`, 404},
		{path + "/nosuchpolicy", `{"reason":"pulsartest serves no policy nosuchpolicy"}`, 404},
	} {
		if code, body := adminGet(t, b, c.path); code != c.code || body != c.body {
			t.Errorf("GET %s: %d %s, want %d %s", c.path, code, body, c.code, c.body)
		}
	}
	if err := b.SetPolicies("not-a-scope", pulsartest.Policies{}); err == nil {
		t.Error("SetPolicies accepted a scope that is neither a namespace nor a topic")
	}
}

func TestAdminTopicPoliciesDisabled(t *testing.T) {
	b := startBroker(t, pulsartest.WithTopicPolicies(false))
	c := newClient(t, b)
	topic := newTopic(t)
	newProducer(t, c, pulsar.ProducerOptions{Topic: topic})
	if err := b.SetPolicies(topic, pulsartest.Policies{MessageTTLSeconds: new(1)}); err == nil {
		t.Fatal("SetPolicies on a topic with topic policies disabled succeeded")
	}
	path := "/admin/v2/persistent/" + strings.TrimPrefix(topic, "persistent://") + "/messageTTL?applied=true"
	if code, _ := adminGet(t, b, path); code != http.StatusMethodNotAllowed {
		t.Fatalf("topic policy with topic policies disabled: %d, want 405", code)
	}
}
