package pulsar

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/mqwal/mqwal/walimpls"
)

// What can delete messages a WAL has not truncated, on Pulsar 2.x to 4.x
// (the truncation subscription keeps everything else):
//   - message TTL (topic or namespace messageTTL, broker
//     ttlDurationDefaultInSeconds): the broker moves every subscription past
//     expired messages, and trimming then deletes them;
//   - a backlog quota with policy consumer_backlog_eviction (size or
//     message age): the broker moves the slowest subscription forward;
//   - subscription expiration (namespace subscriptionExpirationTime, broker
//     subscriptionExpirationTimeMinutes): the broker deletes a subscription
//     without consumers, and the driver's has one only during Truncate.
//
// Backlog quotas with producer_request_hold or producer_exception delete
// nothing but hold or fail appends once the untruncated backlog exceeds
// them: a warning. Inactive topic deletion needs no check: the default
// mode (delete_when_no_subscriptions) spares a topic with a subscription,
// and delete_when_subscriptions_caught_up never finds the truncation
// subscription caught up, since Truncate keeps its id.
//
// The policies are read from the broker's admin REST API (WithAdminURL):
// the topic's effective values (applied=true), or the namespace's when topic
// level policies are disabled or the topic does not exist yet.

// adminClient reads policies from the admin REST API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func newAdminClient(cfg *config) (*adminClient, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.tlsCAFile != "" || cfg.tlsInsecure {
		tc := &tls.Config{InsecureSkipVerify: cfg.tlsInsecure} //nolint:gosec // an explicit option, for tests
		if cfg.tlsCAFile != "" {
			pem, err := os.ReadFile(cfg.tlsCAFile)
			if err != nil {
				return nil, fmt.Errorf("%w: pulsar: admin TLS CA file: %w", errInvalid, err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: pulsar: admin TLS CA file %s holds no certificate", errInvalid, cfg.tlsCAFile)
			}
		}
		tr.TLSClientConfig = tc
	}
	return &adminClient{base: strings.TrimSuffix(cfg.adminURL, "/"), token: cfg.token, http: &http.Client{Transport: tr, CheckRedirect: keepToken}}, nil
}

// keepToken follows a redirect with the token: a broker redirects a
// topic's admin request to the broker that owns the topic (307), another
// host, to which Go's client would not send the Authorization header. Not
// from https to http.
func keepToken(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if auth := via[0].Header.Get("Authorization"); auth != "" && (req.URL.Scheme == "https" || via[0].URL.Scheme == "http") {
		req.Header.Set("Authorization", auth)
	}
	return nil
}

func (a *adminClient) close() { a.http.CloseIdleConnections() }

// adminStatusError is an admin answer other than 200 and 204.
type adminStatusError struct {
	path, status, body string
	code               int
}

func (e *adminStatusError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("GET %s: %s", e.path, e.status)
	}
	return fmt.Sprintf("GET %s: %s: %s", e.path, e.status, e.body)
}

// hasStatus reports whether err is an admin answer with one of codes.
func hasStatus(err error, codes ...int) bool {
	var se *adminStatusError
	return errors.As(err, &se) && slices.Contains(codes, se.code)
}

// maxAdminAnswer bounds what get reads of an answer: the topic list of a
// namespace with 100,000 topics fits.
const maxAdminAnswer = 16 << 20

// get decodes the JSON answer of path into v; set is false for 204 (unset).
func (a *adminClient) get(ctx context.Context, path string, v any) (set bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return false, err
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminAnswer))
	if err != nil {
		return false, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNoContent:
		return false, nil
	default:
		return false, &adminStatusError{path: path, status: resp.Status, code: resp.StatusCode, body: strings.TrimSpace(string(body))}
	}
	if s := strings.TrimSpace(string(body)); s == "" || s == "null" {
		return false, nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return false, fmt.Errorf("GET %s: %w", path, err)
	}
	return true, nil
}

type backlogQuota struct {
	Limit     int64  `json:"limit"` // before Pulsar 2.9: the size limit
	LimitSize int64  `json:"limitSize"`
	LimitTime int64  `json:"limitTime"`
	Policy    string `json:"policy"`
}

// policyFindings are what checkPolicies found: dangers delete untruncated
// messages, warnings hold or fail appends, unseen says what was not
// visible.
type policyFindings struct {
	dangers, warnings, unseen []string
}

// readPolicies reads the policies of topic that can drop or block its
// backlog.
func (a *adminClient) readPolicies(ctx context.Context, topic string) (policyFindings, error) {
	var f policyFindings
	rest := strings.TrimPrefix(topic, "persistent://")
	ns := rest[:strings.LastIndex(rest, "/")]
	var ttl int64
	var quotas map[string]backlogQuota
	ttlSet, err := a.get(ctx, "/admin/v2/persistent/"+rest+"/messageTTL?applied=true", &ttl)
	if err == nil {
		_, err = a.get(ctx, "/admin/v2/persistent/"+rest+"/backlogQuotaMap?applied=true", &quotas)
	}
	if hasStatus(err, http.StatusNotFound, http.StatusMethodNotAllowed) {
		// A 404 (the topic does not exist yet) or 405 (topic level policies
		// are disabled): the namespace's own settings; the broker's defaults stay unseen.
		f.unseen = append(f.unseen, fmt.Sprintf("topic level policies of %s are not available (%v): read the namespace's; broker defaults (ttlDurationDefaultInSeconds, backlogQuotaDefault*) were not checked", topic, err))
		if ttlSet, err = a.get(ctx, "/admin/v2/namespaces/"+ns+"/messageTTL", &ttl); err == nil {
			_, err = a.get(ctx, "/admin/v2/namespaces/"+ns+"/backlogQuotaMap", &quotas)
		}
	}
	if err != nil {
		return f, err
	}
	var expiry int64
	expirySet, err := a.get(ctx, "/admin/v2/namespaces/"+ns+"/subscriptionExpirationTime", &expiry)
	if err != nil {
		return f, err
	}
	if ttlSet && ttl > 0 {
		f.dangers = append(f.dangers, fmt.Sprintf("message TTL of %d s", ttl))
	}
	for typ, q := range quotas {
		limit := max(q.LimitSize, q.Limit)
		if typ == "message_age" {
			limit = q.LimitTime
		}
		switch {
		case limit <= 0:
		case q.Policy == "consumer_backlog_eviction":
			f.dangers = append(f.dangers, fmt.Sprintf("backlog quota %s of %d with policy consumer_backlog_eviction", typ, limit))
		default:
			f.warnings = append(f.warnings, fmt.Sprintf("backlog quota %s of %d with policy %s holds or fails appends once the untruncated backlog exceeds it", typ, limit, q.Policy))
		}
	}
	if expirySet && expiry > 0 {
		f.dangers = append(f.dangers, fmt.Sprintf("subscription expiration of %d min in namespace %s (the truncation subscription has no consumer between Truncates)", expiry, ns))
	} else if !expirySet {
		f.unseen = append(f.unseen, fmt.Sprintf("namespace %s sets no subscription expiration: the broker's subscriptionExpirationTimeMinutes (default 0) applies", ns))
	}
	return f, nil
}

// checkPolicies refuses (ErrInvalidArgument) a channel whose topic has a
// policy that deletes messages before they are truncated, unless
// WithAllowExpiringPolicies; without WithAdminURL it warns once per opener
// that nothing was checked.
func (o *opener) checkPolicies(ctx context.Context, channel, topic string) error {
	if o.admin == nil {
		o.noAdminWarning.Do(func() {
			o.cfg.log.Warn("pulsar: no admin URL configured (WithAdminURL, config pulsar.admin_url): policies that delete messages before Truncate (message TTL, backlog quota eviction, subscription expiration) were not checked")
		})
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.operationTimeout)
	defer cancel()
	f, err := o.admin.readPolicies(ctx, topic)
	if err != nil {
		return fmt.Errorf("%w: pulsar: channel %q: read the policies of %s from %s: %w", walimpls.ErrUnavailable, channel, topic, o.cfg.adminURL, err)
	}
	for _, n := range f.unseen {
		o.cfg.log.Debug("pulsar: policies not checked", "topic", topic, "why", n)
	}
	for _, n := range f.warnings {
		o.cfg.log.Warn("pulsar: policy", "topic", topic, "warning", n)
	}
	if len(f.dangers) == 0 {
		return nil
	}
	msg := fmt.Sprintf("pulsar: channel %q: the broker may delete messages that were never truncated from %s: %s", channel, topic, strings.Join(f.dangers, "; "))
	if o.cfg.allowExpiry {
		o.cfg.log.Warn(msg + " (allowed by WithAllowExpiringPolicies)")
		return nil
	}
	return fmt.Errorf("%w: %s; remove the policies (pulsar-admin namespaces remove-message-ttl, remove-backlog-quota, set-subscription-expiration-time 0) or accept the loss with WithAllowExpiringPolicies", walimpls.ErrInvalidArgument, msg)
}
