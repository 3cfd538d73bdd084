package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/walimpls"
)

// Pulsar is the section of the Pulsar backend (impls/pulsar). A channel is
// the topic persistent://<tenant>/<namespace>/<topic_prefix><channel>.
type Pulsar struct {
	// URL is the service URL, pulsar://host:6650 or pulsar+ssl://host:6651;
	// required when the backend is pulsar.
	URL string `yaml:"url"`
	// Tenant and Namespace hold the topics (default public/default). The
	// namespace should have deduplication enabled
	// (brokerDeduplicationEnabled or pulsar-admin namespaces
	// set-deduplication), so a resend after a lost receipt is not stored twice.
	Tenant    string `yaml:"tenant"`
	Namespace string `yaml:"namespace"`
	// TopicPrefix is prepended to each channel name to form its topic.
	TopicPrefix string `yaml:"topic_prefix"`
	// MaxMessageSize is the broker's maxMessageSize in bytes; 0 means
	// Pulsar's default (5 MiB). The client cannot learn it, so set it when
	// the broker differs.
	MaxMessageSize int `yaml:"max_message_size"`
	// MaxInFlight bounds the appends of one WAL waiting for a receipt; 0 keeps
	// the driver's default (128).
	MaxInFlight int `yaml:"max_in_flight"`
	// TruncateSubscription names the durable subscription whose
	// acknowledgement records Truncate; empty keeps the driver's default
	// ("mqwal-truncate").
	TruncateSubscription string `yaml:"truncate_subscription"`
	// AdminURL is the broker's web service URL, http://host:8080 or
	// https://host:8443 (with the auth and tls settings above). With it,
	// opening a channel for writing reads the topic's effective policies and
	// refuses those that delete messages before they are truncated (message
	// TTL, a backlog quota with consumer_backlog_eviction, subscription
	// expiration); without it they are not checked and a warning says so.
	AdminURL string `yaml:"admin_url"`
	// AllowExpiringPolicies opens such channels anyway, with a logged
	// warning: messages then go without a Truncate.
	AllowExpiringPolicies bool           `yaml:"allow_expiring_policies"`
	Auth                  PulsarAuth     `yaml:"auth"`
	TLS                   TLS            `yaml:"tls"`
	Timeouts              PulsarTimeouts `yaml:"timeouts"`
}

// PulsarAuth authenticates with a token (JWT), given inline or in a file.
type PulsarAuth struct {
	// Token; prefer MQWAL_PULSAR_AUTH_TOKEN to writing it in a file.
	Token string `yaml:"token"`
	// TokenFile holds the token; it is read when the driver is built.
	TokenFile string `yaml:"token_file"`
}

// PulsarTimeouts bound the client's waits.
type PulsarTimeouts struct {
	// Connection bounds establishing a connection (default 5s).
	Connection time.Duration `yaml:"connection"`
	// Operation bounds each request: lookups, producer and reader creation
	// (default 10s).
	Operation time.Duration `yaml:"operation"`
}

func defaultPulsar() Pulsar {
	return Pulsar{
		Tenant:    pulsar.DefaultTenant,
		Namespace: pulsar.DefaultNamespace,
		Timeouts:  PulsarTimeouts{Connection: pulsar.DefaultConnectionTimeout, Operation: pulsar.DefaultOperationTimeout},
	}
}

func (p *Pulsar) check(v *validator) {
	ssl := false
	if p.URL != "" {
		u, err := url.Parse(p.URL)
		switch {
		case err != nil:
			v.bad("url", "must be pulsar://host:port or pulsar+ssl://host:port, got %q", p.URL)
		case u.Scheme != "pulsar" && u.Scheme != "pulsar+ssl":
			v.bad("url", "scheme must be pulsar or pulsar+ssl, got %q", u.Scheme)
		case u.Host == "":
			v.bad("url", "must name a host, got %q", p.URL)
		}
		ssl = err == nil && u.Scheme == "pulsar+ssl"
		if err == nil && u.Scheme == "pulsar" && p.TLS.Enabled {
			v.bad("tls.enabled", "needs a pulsar+ssl:// url, got %q", p.URL)
		}
	}
	for _, f := range []struct{ key, val string }{{"tenant", p.Tenant}, {"namespace", p.Namespace}} {
		if f.val == "" {
			v.bad(f.key, "must not be empty")
		} else if c, bad := firstBadTopicChar(f.val, "=:"); bad {
			v.bad(f.key, "may hold only letters, digits and . _ - = :, got %q in %q", c, f.val)
		}
	}
	if c, bad := firstBadTopicChar(p.TopicPrefix, "=:"); bad {
		v.bad("topic_prefix", "may hold only letters, digits and . _ - = :, got %q in %q", c, p.TopicPrefix)
	}
	if c, bad := firstBadTopicChar(p.TruncateSubscription, "=:"); bad {
		v.bad("truncate_subscription", "may hold only letters, digits and . _ - = :, got %q in %q", c, p.TruncateSubscription)
	}
	if p.AdminURL != "" {
		u, err := url.Parse(p.AdminURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https"):
			v.bad("admin_url", "must be http://host:port or https://host:port, got %q", p.AdminURL)
		case u.Host == "":
			v.bad("admin_url", "must name a host, got %q", p.AdminURL)
		}
	}
	if p.MaxMessageSize < 0 {
		v.bad("max_message_size", "must be >= 0, got %d", p.MaxMessageSize)
	}
	if p.MaxInFlight < 0 {
		v.bad("max_in_flight", "must be >= 0, got %d", p.MaxInFlight)
	}
	if p.Auth.Token != "" && p.Auth.TokenFile != "" {
		v.bad("auth.token", "give auth.token or auth.token_file, not both")
	}
	if p.Auth.TokenFile != "" {
		if _, err := statFile(p.Auth.TokenFile); err != nil {
			v.bad("auth.token_file", "cannot read %s: %v", p.Auth.TokenFile, err)
		}
	}
	tls := p.TLS
	if ssl {
		tls.Enabled = true // the scheme turns TLS on; the files are still checked
	}
	tls.check(v, "tls")
	// The driver takes a CA file and the insecure switch only.
	if p.TLS.CertFile != "" || p.TLS.KeyFile != "" {
		v.bad("tls.cert_file", "client certificates are not supported by the pulsar driver (use auth.token)")
	}
	if p.TLS.ServerName != "" {
		v.bad("tls.server_name", "is not supported by the pulsar driver")
	}
	positive(v, "timeouts.connection", p.Timeouts.Connection)
	positive(v, "timeouts.operation", p.Timeouts.Operation)
}

func (p *Pulsar) require(v *validator) {
	if p.URL == "" {
		v.bad("url", "is required for backend pulsar, e.g. pulsar://localhost:6650 (or set %s)", EnvVar("pulsar.url"))
	}
}

func (p *Pulsar) driver() (walimpls.OpenerBuilderImpls, error) {
	opts := []pulsar.Option{
		pulsar.WithURL(p.URL),
		pulsar.WithTenant(p.Tenant),
		pulsar.WithNamespace(p.Namespace),
		pulsar.WithTopicPrefix(p.TopicPrefix),
		pulsar.WithConnectionTimeout(p.Timeouts.Connection),
		pulsar.WithOperationTimeout(p.Timeouts.Operation),
	}
	if p.MaxMessageSize > 0 {
		opts = append(opts, pulsar.WithMaxMessageSize(p.MaxMessageSize))
	}
	if p.MaxInFlight > 0 {
		opts = append(opts, pulsar.WithMaxInFlight(p.MaxInFlight))
	}
	if p.TruncateSubscription != "" {
		opts = append(opts, pulsar.WithTruncateSubscription(p.TruncateSubscription))
	}
	if p.AdminURL != "" {
		opts = append(opts, pulsar.WithAdminURL(p.AdminURL))
	}
	if p.AllowExpiringPolicies {
		opts = append(opts, pulsar.WithAllowExpiringPolicies(true))
	}
	token := p.Auth.Token
	if p.Auth.TokenFile != "" {
		b, err := os.ReadFile(p.Auth.TokenFile)
		if err != nil {
			return nil, &Error{Key: "pulsar.auth.token_file", Msg: fmt.Sprintf("cannot read %s: %v", p.Auth.TokenFile, unwrapPath(err)), Err: walimpls.ErrInvalidArgument}
		}
		token = strings.TrimSpace(string(b))
	}
	if token != "" {
		opts = append(opts, pulsar.WithAuthToken(token))
	}
	if p.TLS.CAFile != "" {
		opts = append(opts, pulsar.WithTLSCAFile(p.TLS.CAFile))
	}
	if p.TLS.InsecureSkipVerify {
		opts = append(opts, pulsar.WithTLSInsecure(true))
	}
	return pulsar.NewBuilder(opts...), nil
}
