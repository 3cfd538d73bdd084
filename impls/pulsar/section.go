package pulsar

import (
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
	"github.com/mqwal/mqwal/walimpls/section"
)

func init() {
	registry.RegisterSection(Name, DefaultSection)
}

// Section is the Pulsar backend's part of a configuration file (package
// config), mapped onto the options. A channel is the topic
// persistent://<tenant>/<namespace>/<topic_prefix><channel>.
//
//	pulsar:
//	  url: pulsar://localhost:6650
//	  admin_url: http://localhost:8080
type Section struct {
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
	// the driver's default (DefaultMaxInFlight, 128).
	MaxInFlight int `yaml:"max_in_flight"`
	// TruncateSubscription names the durable subscription whose
	// acknowledgement records Truncate; empty keeps the driver's default
	// ("mqwal-truncate").
	TruncateSubscription string `yaml:"truncate_subscription"`
	// AdminURL is the broker's web service URL, http://host:8080 or
	// https://host:8443 (with the auth and tls settings). With it, opening a
	// channel for writing reads the topic's effective policies and refuses
	// those that delete messages before they are truncated (message TTL, a
	// backlog quota with consumer_backlog_eviction, subscription
	// expiration); without it they are not checked and a warning says so.
	AdminURL string `yaml:"admin_url"`
	// AllowExpiringPolicies opens such channels anyway, with a logged
	// warning: messages then go without a Truncate.
	AllowExpiringPolicies bool            `yaml:"allow_expiring_policies"`
	Auth                  SectionAuth     `yaml:"auth"`
	TLS                   section.TLS     `yaml:"tls"`
	Timeouts              SectionTimeouts `yaml:"timeouts"`
}

// SectionAuth authenticates with a token (JWT), given inline or in a file.
type SectionAuth struct {
	// Token; prefer MQWAL_PULSAR_AUTH_TOKEN to writing it in a file.
	Token string `yaml:"token"`
	// TokenFile holds the token; it is read when the driver is built.
	TokenFile string `yaml:"token_file"`
}

// SectionTimeouts bound the client's waits.
type SectionTimeouts struct {
	// Connection bounds establishing a connection (default 5s).
	Connection time.Duration `yaml:"connection"`
	// Operation bounds each request: lookups, producer and reader creation
	// (default 10s).
	Operation time.Duration `yaml:"operation"`
	// ScannerPark is how long a tailing scanner receives nothing before it
	// parks (WithScannerParkAfter; default 5s, 0 never parks).
	ScannerPark time.Duration `yaml:"scanner_park"`
}

// DefaultSection is the section with nothing set.
func DefaultSection() *Section {
	return &Section{
		Tenant:    DefaultTenant,
		Namespace: DefaultNamespace,
		Timeouts:  SectionTimeouts{Connection: DefaultConnectionTimeout, Operation: DefaultOperationTimeout, ScannerPark: DefaultScannerParkAfter},
	}
}

// nameChars are what Pulsar names may hold beyond letters, digits, '.', '_'
// and '-'.
const nameChars = "=:"

// Check implements section.Section.
func (p *Section) Check(r section.Reporter, selected bool) {
	ssl := false
	if p.URL != "" {
		u, err := url.Parse(p.URL)
		switch {
		case err != nil:
			r.Bad("url", "must be pulsar://host:port or pulsar+ssl://host:port, got %q", p.URL)
		case u.Scheme != "pulsar" && u.Scheme != "pulsar+ssl":
			r.Bad("url", "scheme must be pulsar or pulsar+ssl, got %q", u.Scheme)
		case u.Host == "":
			r.Bad("url", "must name a host, got %q", p.URL)
		}
		ssl = err == nil && u.Scheme == "pulsar+ssl"
		if err == nil && u.Scheme == "pulsar" && p.TLS.Enabled {
			r.Bad("tls.enabled", "needs a pulsar+ssl:// url, got %q", p.URL)
		}
	}
	for _, f := range []struct{ key, val string }{{"tenant", p.Tenant}, {"namespace", p.Namespace}} {
		if f.val == "" {
			r.Bad(f.key, "must not be empty")
		}
	}
	for _, f := range []struct{ key, val string }{{"tenant", p.Tenant}, {"namespace", p.Namespace}, {"topic_prefix", p.TopicPrefix}, {"truncate_subscription", p.TruncateSubscription}} {
		if c, bad := section.BadNameChar(f.val, nameChars); bad {
			r.Bad(f.key, "may hold only letters, digits and . _ - = :, got %q in %q", c, f.val)
		}
	}
	if p.AdminURL != "" {
		u, err := url.Parse(p.AdminURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https"):
			r.Bad("admin_url", "must be http://host:port or https://host:port, got %q", p.AdminURL)
		case u.Host == "":
			r.Bad("admin_url", "must name a host, got %q", p.AdminURL)
		}
	}
	section.NonNegative(r, "max_message_size", p.MaxMessageSize, "")
	section.NonNegative(r, "max_in_flight", p.MaxInFlight, "")
	if p.Auth.Token != "" && p.Auth.TokenFile != "" {
		r.Bad("auth.token", "give auth.token or auth.token_file, not both")
	}
	if p.Auth.TokenFile != "" {
		if err := section.StatFile(p.Auth.TokenFile); err != nil {
			r.Bad("auth.token_file", "cannot read %s: %v", p.Auth.TokenFile, err)
		}
	}
	tls := p.TLS
	if ssl {
		tls.Enabled = true // the scheme turns TLS on; the files are still checked
	}
	tls.Check(r, "tls")
	// The driver takes a CA file and the insecure switch only.
	if p.TLS.CertFile != "" || p.TLS.KeyFile != "" {
		r.Bad("tls.cert_file", "client certificates are not supported by the pulsar driver (use auth.token)")
	}
	if p.TLS.ServerName != "" {
		r.Bad("tls.server_name", "is not supported by the pulsar driver")
	}
	section.Positive(r, "timeouts.connection", p.Timeouts.Connection)
	section.Positive(r, "timeouts.operation", p.Timeouts.Operation)
	section.NonNegative(r, "timeouts.scanner_park", p.Timeouts.ScannerPark, "0 never parks")
	if selected && p.URL == "" {
		r.Bad("url", "is required for backend pulsar, e.g. pulsar://localhost:6650 (or set %s)", r.EnvVar("url"))
	}
}

// Builder implements section.Section. It reads auth.token_file; it does no
// other I/O (the client connects on first use).
func (p *Section) Builder(r section.Reporter) (walimpls.OpenerBuilderImpls, error) {
	opts := []Option{
		WithURL(p.URL),
		WithTenant(p.Tenant),
		WithNamespace(p.Namespace),
		WithTopicPrefix(p.TopicPrefix),
		WithConnectionTimeout(p.Timeouts.Connection),
		WithOperationTimeout(p.Timeouts.Operation),
		WithScannerParkAfter(p.Timeouts.ScannerPark),
	}
	if p.MaxMessageSize > 0 {
		opts = append(opts, WithMaxMessageSize(p.MaxMessageSize))
	}
	if p.MaxInFlight > 0 {
		opts = append(opts, WithMaxInFlight(p.MaxInFlight))
	}
	if p.TruncateSubscription != "" {
		opts = append(opts, WithTruncateSubscription(p.TruncateSubscription))
	}
	if p.AdminURL != "" {
		opts = append(opts, WithAdminURL(p.AdminURL))
	}
	if p.AllowExpiringPolicies {
		opts = append(opts, WithAllowExpiringPolicies(true))
	}
	token := p.Auth.Token
	if p.Auth.TokenFile != "" {
		b, err := os.ReadFile(p.Auth.TokenFile)
		if err != nil {
			r.Bad("auth.token_file", "cannot read %s: %v", p.Auth.TokenFile, section.Unwrap(err))
			return nil, err
		}
		token = strings.TrimSpace(string(b))
	}
	if token != "" {
		opts = append(opts, WithAuthToken(token))
	}
	if p.TLS.CAFile != "" {
		opts = append(opts, WithTLSCAFile(p.TLS.CAFile))
	}
	if p.TLS.InsecureSkipVerify {
		opts = append(opts, WithTLSInsecure(true))
	}
	return NewBuilder(opts...), nil
}

// Describe implements section.Describer.
func (p *Section) Describe() string { return p.URL }
