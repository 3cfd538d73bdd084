package pulsar

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	pclog "github.com/apache/pulsar-client-go/pulsar/log"
)

// Defaults of a Builder.
const (
	// DefaultURL is the service URL unless WithURL says otherwise. The
	// driver never reads the environment: MQWAL_PULSAR_URL is package
	// config's (pulsar.url).
	DefaultURL               = "pulsar://127.0.0.1:6650"
	DefaultTenant            = "public"
	DefaultNamespace         = "default"
	DefaultOperationTimeout  = 10 * time.Second
	DefaultConnectionTimeout = 5 * time.Second
	// DefaultMaxMessageSize is a Pulsar broker's default maxMessageSize
	// (5 MiB), which it announces in CONNECTED.
	DefaultMaxMessageSize = 5 << 20
	// DefaultMaxInFlight bounds the appends of one WAL waiting for a
	// receipt. The producer's pending queue is allocated at this size for
	// every open ReadWrite WAL (24 bytes a slot), idle or not: at the
	// client's default of 1000 it was half of an idle channel's heap.
	DefaultMaxInFlight = 128
	// DefaultScannerParkAfter is how long a tailing scanner waits for a
	// message before it parks (WithScannerParkAfter).
	DefaultScannerParkAfter = 5 * time.Second
)

// Option configures a Builder. Options are values: keep them in a slice,
// reuse them for several builders.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	url               string
	tenant            string
	namespace         string
	topicPrefix       string
	token             string
	tlsCAFile         string
	tlsInsecure       bool
	operationTimeout  time.Duration
	connectionTimeout time.Duration
	maxMessageSize    int
	maxInFlight       int
	subscription      string
	adminURL          string
	allowExpiry       bool
	parkAfter         time.Duration
	parkRecheck       time.Duration
	beforePark        func() // tests: runs between closing the Reader and subscribing
	logger            pclog.Logger
	log               *slog.Logger
}

func defaultConfig() config {
	return config{
		url:               DefaultURL,
		tenant:            DefaultTenant,
		namespace:         DefaultNamespace,
		operationTimeout:  DefaultOperationTimeout,
		connectionTimeout: DefaultConnectionTimeout,
		maxMessageSize:    DefaultMaxMessageSize,
		maxInFlight:       DefaultMaxInFlight,
		subscription:      "mqwal-truncate",
		parkAfter:         DefaultScannerParkAfter,
		parkRecheck:       30 * time.Second,
		logger:            pclog.DefaultNopLogger(),
		log:               slog.Default(),
	}
}

// WithURL sets the service URL, "pulsar://host:6650" or
// "pulsar+ssl://host:6651" (default DefaultURL).
func WithURL(url string) Option { return optionFunc(func(c *config) { c.url = url }) }

// WithTenant sets the tenant of every topic (default "public").
func WithTenant(tenant string) Option { return optionFunc(func(c *config) { c.tenant = tenant }) }

// WithNamespace sets the namespace of every topic (default "default").
func WithNamespace(ns string) Option { return optionFunc(func(c *config) { c.namespace = ns }) }

// WithTopicPrefix is put before every channel name, so several mqwal
// deployments can share a namespace.
func WithTopicPrefix(prefix string) Option {
	return optionFunc(func(c *config) { c.topicPrefix = prefix })
}

// WithAuthToken authenticates with a JWT token.
func WithAuthToken(token string) Option { return optionFunc(func(c *config) { c.token = token }) }

// WithTLSCAFile trusts the CA certificates in file for pulsar+ssl URLs.
func WithTLSCAFile(file string) Option { return optionFunc(func(c *config) { c.tlsCAFile = file }) }

// WithTLSInsecure skips the verification of the broker's certificate. For
// tests only.
func WithTLSInsecure(insecure bool) Option {
	return optionFunc(func(c *config) { c.tlsInsecure = insecure })
}

// WithOperationTimeout bounds each request to the broker (producer and
// reader creation, lookups); default 10s.
func WithOperationTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.operationTimeout = d })
}

// WithScannerParkAfter sets how long a tailing scanner receives nothing
// before it parks: it closes its Reader and waits for the next message on a
// non-durable Consumer, which has no ack-grouping ticker (a Reader's runs
// every 100 ms and cannot be turned off: 1,000 idle tailing Readers cost
// ~10 % of a core). The first message after a park reaches the scanner a
// few round trips later (the Reader is reopened). Default
// DefaultScannerParkAfter; 0 never parks.
func WithScannerParkAfter(d time.Duration) Option {
	return optionFunc(func(c *config) { c.parkAfter = d })
}

// WithConnectionTimeout bounds establishing a TCP connection; default 5s.
func WithConnectionTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.connectionTimeout = d })
}

// WithMaxMessageSize sets the broker's max message size, which the driver
// cannot learn through the client's public API: set it to the broker's
// maxMessageSize when that is not the default 5 MiB. Append refuses larger
// messages with ErrMessageTooLarge before sending them.
func WithMaxMessageSize(n int) Option {
	return optionFunc(func(c *config) { c.maxMessageSize = n })
}

// WithMaxInFlight bounds how many appends of one WAL wait for their receipt
// at a time (default 128); further Appends wait for room, honouring ctx.
// Each open ReadWrite WAL's producer allocates its pending queue at this
// size (24 bytes a slot); raise it for a few channels with many
// asynchronous appends over a slow link.
func WithMaxInFlight(n int) Option { return optionFunc(func(c *config) { c.maxInFlight = n }) }

// WithTruncateSubscription names the durable subscription whose cumulative
// acknowledgement records Truncate (default "mqwal-truncate").
func WithTruncateSubscription(name string) Option {
	return optionFunc(func(c *config) { c.subscription = name })
}

// WithAdminURL sets the broker's admin (web service) URL, "http://host:8080"
// or "https://host:8443", with the token and TLS settings of the service
// URL. ReadWrite Open then reads the channel's effective policies and
// refuses a channel whose broker would delete messages that were never
// truncated: a message TTL, a backlog quota with consumer_backlog_eviction,
// or a subscription expiration (see WithAllowExpiringPolicies). Without it
// the policies are not checked, and the first Open logs a warning saying so.
// Stat and ListChannels use it too (see the package doc, "Describing
// channels").
func WithAdminURL(url string) Option { return optionFunc(func(c *config) { c.adminURL = url }) }

// WithAllowExpiringPolicies makes Open accept, with a logged warning, a
// channel whose policies let the broker delete messages before they are
// truncated (see WithAdminURL). Messages then disappear without a Truncate;
// readers get ErrOutOfRange for positions that are gone.
func WithAllowExpiringPolicies(allow bool) Option {
	return optionFunc(func(c *config) { c.allowExpiry = allow })
}

// WithLogger sets where the driver logs its own warnings (default
// slog.Default()); WithClientLogger is pulsar-client-go's.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.log = l
		}
	})
}

// WithClientLogger sets pulsar-client-go's logger (for example
// pclog.NewLoggerWithSlog). The default discards the client's logging, which
// is chatty at info level on every reconnect.
func WithClientLogger(l pclog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]*$`)

func (c *config) validate() error {
	switch {
	case c.url == "":
		return fmt.Errorf("%w: pulsar: service URL is empty", errInvalid)
	case !strings.HasPrefix(c.url, "pulsar://") && !strings.HasPrefix(c.url, "pulsar+ssl://"):
		return fmt.Errorf("%w: pulsar: service URL %q must start with pulsar:// or pulsar+ssl://", errInvalid, c.url)
	case c.tenant == "" || !nameRE.MatchString(c.tenant):
		return fmt.Errorf("%w: pulsar: tenant %q: use letters, digits, '.', '_' and '-'", errInvalid, c.tenant)
	case c.namespace == "" || !nameRE.MatchString(c.namespace):
		return fmt.Errorf("%w: pulsar: namespace %q: use letters, digits, '.', '_' and '-'", errInvalid, c.namespace)
	case !nameRE.MatchString(c.topicPrefix):
		return fmt.Errorf("%w: pulsar: topic prefix %q: use letters, digits, '.', '_' and '-'", errInvalid, c.topicPrefix)
	case c.subscription == "" || !nameRE.MatchString(c.subscription):
		return fmt.Errorf("%w: pulsar: truncate subscription %q: use letters, digits, '.', '_' and '-'", errInvalid, c.subscription)
	case c.parkAfter < 0:
		return fmt.Errorf("%w: pulsar: scanner park-after %v is negative", errInvalid, c.parkAfter)
	case c.operationTimeout <= 0:
		return fmt.Errorf("%w: pulsar: operation timeout %v must be positive", errInvalid, c.operationTimeout)
	case c.connectionTimeout <= 0:
		return fmt.Errorf("%w: pulsar: connection timeout %v must be positive", errInvalid, c.connectionTimeout)
	case c.maxMessageSize <= 0:
		return fmt.Errorf("%w: pulsar: max message size %d must be positive", errInvalid, c.maxMessageSize)
	case c.maxInFlight <= 0:
		return fmt.Errorf("%w: pulsar: max in-flight %d must be positive", errInvalid, c.maxInFlight)
	}
	if c.adminURL != "" {
		u, err := url.Parse(c.adminURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: pulsar: admin URL %q must be http://host:port or https://host:port", errInvalid, c.adminURL)
		}
	}
	return nil
}

// resolve applies options to the defaults.
func resolve(opts []Option) config {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// metadataReserve is what the message metadata (producer name, sequence
// id, publish time, SeqProperty and the framing of each property) takes
// from the broker's limit, which pulsar-client-go applies to metadata plus
// payload.
const metadataReserve = 4 << 10

// maxSize is Capabilities.MaxMessageSize: the broker's limit less the
// metadata reserve.
func (c *config) maxSize() int { return max(c.maxMessageSize-metadataReserve, 1) }

func (c *config) topic(channel string) string {
	return "persistent://" + c.tenant + "/" + c.namespace + "/" + c.topicPrefix + channel
}
