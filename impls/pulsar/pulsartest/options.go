package pulsartest

import (
	"log/slog"
	"time"
)

// Option configures a Broker. Options are values so they can be kept in a
// slice and reused for several brokers.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	dedup          bool
	maxMessageSize int
	dataDir        string
	logger         *slog.Logger
	addr           string
	adminAddr      string
	keepAlive      time.Duration
	clock          func() time.Time
	topicPolicies  bool
	maxEntries     int
	exclusive      bool
}

func defaultConfig() config {
	return config{
		maxMessageSize: DefaultMaxMessageSize,
		logger:         slog.New(slog.DiscardHandler),
		addr:           "127.0.0.1:0",
		adminAddr:      "127.0.0.1:0",
		keepAlive:      30 * time.Second,
		clock:          time.Now,
		topicPolicies:  true,
		exclusive:      true,
	}
}

// WithDeduplication turns broker-side message deduplication on or off (off by
// default, as in a real namespace without the policy). With it on, the
// broker keeps the highest sequence id stored per producer name, reports it
// as last_sequence_id when a producer with that name connects, and answers a
// SEND whose sequence id is not above it with a receipt for message id
// -1:-1 without storing the message.
func WithDeduplication(on bool) Option {
	return optionFunc(func(c *config) { c.dedup = on })
}

// WithMaxMessageSize sets the max_message_size announced in CONNECTED
// (default 5 MiB). The broker refuses, by closing the connection, any frame
// larger than this plus the 10 KiB the protocol allows for headers.
func WithMaxMessageSize(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.maxMessageSize = n
		}
	})
}

// WithDataDir keeps topics, durable subscription cursors, producer epochs and
// deduplication state in dir, so that Restart (or a new Broker on the same
// dir) finds them again. Every stored message is fsynced before its receipt.
// Without it everything lives in memory and survives Restart but not Close.
func WithDataDir(dir string) Option {
	return optionFunc(func(c *config) { c.dataDir = dir })
}

// WithLogger sets where the broker logs protocol errors and lifecycle events.
// The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithAddr sets the listen address (default "127.0.0.1:0", a free loopback
// port). Restart listens on the port first chosen.
func WithAddr(addr string) Option {
	return optionFunc(func(c *config) { c.addr = addr })
}

// WithAdminAddr sets the listen address of the admin endpoint (default
// "127.0.0.1:0"); AdminURL reports where it listens.
func WithAdminAddr(addr string) Option {
	return optionFunc(func(c *config) { c.adminAddr = addr })
}

// WithKeepAlive sets how often the broker pings an idle client and how long
// (twice the interval) it waits for any frame before it drops the
// connection, like a real broker's keepAliveIntervalSeconds (30 s). Zero
// turns broker pings and the idle check off; PINGs from clients are always
// answered.
func WithKeepAlive(d time.Duration) Option {
	return optionFunc(func(c *config) { c.keepAlive = d })
}

// WithClock sets the clock message TTL, retention time and the message_age
// backlog quota are measured against (default time.Now); publish times come
// from the clients. Tests move it forward instead of waiting.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) {
		if now != nil {
			c.clock = now
		}
	})
}

// WithMaxEntriesPerLedger closes a topic's ledger once it holds n entries
// and trims, like a real broker's managedLedgerMaxEntriesPerLedger (50,000,
// honoured only after managedLedgerMinLedgerRolloverTimeMinutes, 10 min).
// The default 0 closes ledgers only on Restart and RollLedgers.
func WithMaxEntriesPerLedger(n int) Option {
	return optionFunc(func(c *config) { c.maxEntries = max(n, 0) })
}

// WithTopicPolicies turns topic level policies on (the default, as
// topicLevelPoliciesEnabled on Pulsar 2.11 and later) or off: off, the admin
// endpoint answers topic policy requests with 405 and SetPolicies refuses
// topic scopes.
func WithTopicPolicies(on bool) Option {
	return optionFunc(func(c *config) { c.topicPolicies = on })
}

// WithExclusiveProducers(false) makes the broker behave as one before Pulsar
// 2.8.0, which has no producer access modes (PIP-68): every producer is
// shared and no topic epoch is kept, so a producer that reconnects after
// another came and went is not fenced. A second producer with a name that
// is connected still gets ProducerBusy. The default is true.
func WithExclusiveProducers(on bool) Option {
	return optionFunc(func(c *config) { c.exclusive = on })
}
