package pulsartest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// The admin endpoint serves the read side of the policies a real broker's
// web service (/admin/v2, port 8080) has, for what SetPolicies can set:
//
//	GET /admin/v2/persistent/{tenant}/{namespace}/{topic}/messageTTL[?applied=true]
//	GET /admin/v2/persistent/{tenant}/{namespace}/{topic}/retention[?applied=true]
//	GET /admin/v2/persistent/{tenant}/{namespace}/{topic}/backlogQuotaMap[?applied=true]
//	GET /admin/v2/namespaces/{tenant}/{namespace}/messageTTL
//	GET /admin/v2/namespaces/{tenant}/{namespace}/retention
//	GET /admin/v2/namespaces/{tenant}/{namespace}/backlogQuotaMap
//	GET /admin/v2/namespaces/{tenant}/{namespace}/subscriptionExpirationTime
//	PUT /admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions (body: the count)
//	GET /admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions
//
// and the topic list and stats of stats.go.
//
// As on a real broker, a topic level request without applied=true reports
// what is set on the topic itself, with it the effective value (topic, else
// namespace, else the broker's default); an unset value is 204 No Content
// (a JAX-RS resource returning null); a topic the broker does not know is
// 404, and topic level requests are 405 when topic policies are disabled
// (WithTopicPolicies(false)). Authentication is not checked.

func (b *Broker) startAdmin() error {
	ln, err := net.Listen("tcp", b.cfg.adminAddr)
	if err != nil {
		return fmt.Errorf("pulsartest: admin listen %s: %w", b.cfg.adminAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/v2/persistent/{tenant}/{namespace}/{topic}/{policy}", b.handleTopicPolicy)
	mux.HandleFunc("PUT /admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions", b.handleCreatePartitioned)
	mux.HandleFunc("GET /admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions", b.handleGetPartitions)
	mux.HandleFunc("GET /admin/v2/namespaces/{tenant}/{namespace}/{policy}", b.handleNamespacePolicy)
	mux.HandleFunc("GET /admin/v2/persistent/{tenant}/{namespace}", b.handleTopicList)
	mux.HandleFunc("GET /admin/v2/persistent/{tenant}/{namespace}/{topic}/stats", b.handleTopicStats(false))
	mux.HandleFunc("GET /admin/v2/persistent/{tenant}/{namespace}/{topic}/internalStats", b.handleTopicStats(true))
	b.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	b.adminAddr = ln.Addr().String()
	b.adminDone = make(chan struct{})
	go func() {
		defer close(b.adminDone)
		if err := b.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Warn("pulsartest: admin endpoint", "err", err)
		}
	}()
	return nil
}

// AdminURL is the base URL of the admin endpoint, "http://127.0.0.1:port",
// as a real broker's webServiceUrl. It stays the same across Restart.
func (b *Broker) AdminURL() string {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	return "http://" + b.adminAddr
}

func (b *Broker) handleTopicPolicy(w http.ResponseWriter, r *http.Request) {
	if !b.cfg.topicPolicies {
		adminError(w, http.StatusMethodNotAllowed, "Topic level policy is disabled, to enable the topic level policy and retry.")
		return
	}
	topic := "persistent://" + r.PathValue("tenant") + "/" + r.PathValue("namespace") + "/" + r.PathValue("topic")
	b.mu.Lock()
	_, exists := b.topics[topic]
	own, eff := b.policies[topic], b.effectiveLocked(topic)
	b.mu.Unlock()
	if !exists {
		adminError(w, http.StatusNotFound, "Topic "+topic+" not found")
		return
	}
	if r.URL.Query().Get("applied") == "true" {
		own = eff
	}
	b.writePolicy(w, r.PathValue("policy"), own)
}

func (b *Broker) handleNamespacePolicy(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("tenant") + "/" + r.PathValue("namespace")
	b.mu.Lock()
	own := b.policies[ns]
	b.mu.Unlock()
	if r.PathValue("policy") == "subscriptionExpirationTime" {
		writeValue(w, own.SubscriptionExpirationMinutes, own.SubscriptionExpirationMinutes != nil)
		return
	}
	b.writePolicy(w, r.PathValue("policy"), own)
}

func (b *Broker) writePolicy(w http.ResponseWriter, policy string, p Policies) {
	switch policy {
	case "messageTTL":
		writeValue(w, p.MessageTTLSeconds, p.MessageTTLSeconds != nil)
	case "retention":
		writeValue(w, p.Retention, p.Retention != nil)
	case "backlogQuotaMap":
		m := p.BacklogQuotas
		if m == nil {
			m = map[BacklogQuotaType]BacklogQuota{}
		}
		writeValue(w, m, true)
	default:
		adminError(w, http.StatusNotFound, "pulsartest serves no policy "+policy)
	}
}

// writeValue answers v as JSON, or 204 No Content for an unset value.
func writeValue(w http.ResponseWriter, v any, set bool) {
	if !set {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func adminError(w http.ResponseWriter, code int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"reason": reason})
}
