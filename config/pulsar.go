package config

import (
	"net/url"
	"time"

	"github.com/mqwal/mqwal/walimpls"
)

// Pulsar is the section of the Pulsar backend (impls/pulsar). A channel is
// the topic persistent://<tenant>/<namespace>/<topic_prefix><channel>.
type Pulsar struct {
	// URL is the service URL, pulsar://host:6650 or pulsar+ssl://host:6651;
	// required when the backend is pulsar.
	URL string `yaml:"url"`
	// Tenant and Namespace hold the topics (default public/default).
	Tenant    string `yaml:"tenant"`
	Namespace string `yaml:"namespace"`
	// TopicPrefix is prepended to each channel name to form its topic.
	TopicPrefix string         `yaml:"topic_prefix"`
	Auth        PulsarAuth     `yaml:"auth"`
	TLS         TLS            `yaml:"tls"`
	Timeouts    PulsarTimeouts `yaml:"timeouts"`
}

// PulsarAuth authenticates with a token (JWT), given inline or in a file.
type PulsarAuth struct {
	// Token; prefer MQWAL_PULSAR_AUTH_TOKEN to writing it in a file.
	Token string `yaml:"token"`
	// TokenFile is read by the client each time it needs the token.
	TokenFile string `yaml:"token_file"`
}

// PulsarTimeouts bound the client's waits.
type PulsarTimeouts struct {
	// Connection bounds establishing a connection (default 10s).
	Connection time.Duration `yaml:"connection"`
	// Operation bounds lookups, producer and consumer creation (default 30s).
	Operation time.Duration `yaml:"operation"`
	// Send bounds one append (default 30s).
	Send time.Duration `yaml:"send"`
}

func defaultPulsar() Pulsar {
	return Pulsar{
		Tenant:    "public",
		Namespace: "default",
		Timeouts:  PulsarTimeouts{Connection: 10 * time.Second, Operation: 30 * time.Second, Send: 30 * time.Second},
	}
}

func (p *Pulsar) check(v *validator) {
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
	if p.Auth.Token != "" && p.Auth.TokenFile != "" {
		v.bad("auth.token", "give auth.token or auth.token_file, not both")
	}
	if p.Auth.TokenFile != "" {
		if _, err := statFile(p.Auth.TokenFile); err != nil {
			v.bad("auth.token_file", "cannot read %s: %v", p.Auth.TokenFile, err)
		}
	}
	tls := p.TLS
	if u, err := url.Parse(p.URL); err == nil && u.Scheme == "pulsar+ssl" {
		tls.Enabled = true // the scheme turns TLS on; the files are still checked
	}
	tls.check(v, "tls")
	positive(v, "timeouts.connection", p.Timeouts.Connection)
	positive(v, "timeouts.operation", p.Timeouts.Operation)
	positive(v, "timeouts.send", p.Timeouts.Send)
}

func (p *Pulsar) require(v *validator) {
	if p.URL == "" {
		v.bad("url", "is required for backend pulsar, e.g. pulsar://localhost:6650 (or set %s)", EnvVar("pulsar.url"))
	}
}

// driver is nil until the pulsar driver is wired in (pulsar_driver.go).
func (p *Pulsar) driver() (walimpls.OpenerBuilderImpls, error) { return pulsarDriver(p) }

var pulsarDriver = func(*Pulsar) (walimpls.OpenerBuilderImpls, error) { return nil, nil }
