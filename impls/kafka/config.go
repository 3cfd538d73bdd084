package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/mqwal/mqwal/walimpls"
)

// DefaultBroker is the broker of the builder this package registers
// (registry.MustGetBuilder("kafka")): a local development broker. The
// driver never reads the environment; MQWAL_KAFKA_BROKERS is package
// config's (kafka.brokers), as is every MQWAL_* variable.
const DefaultBroker = "localhost:9092"

// SASL mechanisms accepted in SASLConfig.Mechanism.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Defaults applied to zero fields of Config.
const (
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
	// DefaultBrokerMaxMessageBytes is Kafka's default message.max.bytes,
	// used when the broker's own value cannot be read.
	DefaultBrokerMaxMessageBytes = 1048588
	// DefaultProducerIDExpiration is assumed when the brokers'
	// producer.id.expiration.ms cannot be read: an hour, well below
	// Kafka's default of a day, so a lowered broker setting is likely
	// still covered.
	DefaultProducerIDExpiration = time.Hour
	// DefaultMaxQueuedAppends and DefaultMaxQueuedBytes bound the appends
	// that wait behind a batch being resent.
	DefaultMaxQueuedAppends = 16384
	DefaultMaxQueuedBytes   = 16 << 20
)

// Config is the driver's configuration. The zero value plus Brokers is a
// working config.
type Config struct {
	// Brokers are seed host:port addresses.
	Brokers []string
	// TopicPrefix is prepended to each channel name to form its topic.
	TopicPrefix string
	// DisableCreateTopics makes Open fail (ErrInvalidArgument naming the
	// topic) when a channel's topic does not exist, for deployments whose
	// topics are managed elsewhere. By default Open creates it with one
	// partition and ReplicationFactor.
	DisableCreateTopics bool
	// AllowRetention lets Open accept an existing topic whose broker would
	// delete records that were never truncated: a finite retention.ms or
	// retention.bytes (Kafka's default retention.ms is 7 days), or a
	// cleanup.policy with compact. Without it such a topic is refused with
	// ErrInvalidArgument naming the setting. With it, the oldest records
	// vanish when the broker applies retention: DeliverAll then starts
	// later and StartFrom an older ID fails with ErrOutOfRange. Topics the
	// driver creates always have retention.ms=-1, retention.bytes=-1 and
	// cleanup.policy=delete.
	AllowRetention bool
	// ReplicationFactor of created topics; 0 means the broker's default.
	ReplicationFactor int
	// ClientID is sent to the brokers (default "mqwal").
	ClientID string
	// DialTimeout bounds connecting, TLS and SASL (default 5s).
	DialTimeout time.Duration
	// RequestTimeout bounds one request (default 10s).
	RequestTimeout time.Duration
	// WriteTimeout bounds how long an append waits for its batch before
	// failing with ErrUnavailable (nothing written) or ErrOutcomeUnknown
	// (maybe written); the append's own ctx may end it sooner (default 30s).
	WriteTimeout time.Duration
	// MaxMessageBytes is the broker's message.max.bytes; 0 reads it from
	// the broker (DescribeConfigs) when the opener is built.
	MaxMessageBytes int
	// ProducerIDExpiration is the brokers' producer.id.expiration.ms: how
	// long after a producer's last batch (by the batch's timestamp) a
	// broker forgets its epoch, and with it that a higher term fenced a
	// writer. A writer idle for more than half of it checks from the log
	// that no higher term claimed the channel before it sends again, so a
	// fenced writer stays fenced after the broker forgot (half leaves
	// room for clock skew between writer and broker). 0 reads it from the
	// brokers when the opener is built, else DefaultProducerIDExpiration.
	ProducerIDExpiration time.Duration
	// MaxQueuedAppends and MaxQueuedBytes bound the appends waiting behind
	// a batch that the driver resends because the broker has not answered
	// it (an outage): beyond either, Append fails at once with
	// ErrUnavailable (nothing written) instead of queueing without bound.
	// Defaults DefaultMaxQueuedAppends and DefaultMaxQueuedBytes.
	MaxQueuedAppends int
	MaxQueuedBytes   int
	// SASL, if set, authenticates every connection.
	SASL *SASLConfig
	// TLS, if set, encrypts every connection. See also TLSFiles.
	TLS *tls.Config
	// TLSFiles builds a TLS config from files when TLS is nil.
	TLSFiles *TLSFiles
}

// SASLConfig selects a SASL mechanism and its credentials.
type SASLConfig struct {
	Mechanism string // SASLPlain, SASLScramSHA256 or SASLScramSHA512
	Username  string
	Password  string
}

// TLSFiles configures TLS from PEM files.
type TLSFiles struct {
	CAFile             string // trusted CAs; empty means the system pool
	CertFile, KeyFile  string // client certificate, optional
	InsecureSkipVerify bool   // do not verify the brokers' certificates (tests only)
	ServerName         string
}

// withDefaults returns c with defaults applied, validated.
func (c Config) withDefaults() (Config, error) {
	c.Brokers = append([]string(nil), c.Brokers...)
	if len(c.Brokers) == 0 {
		return c, fmt.Errorf("%w: kafka Config.Brokers is empty", walimpls.ErrInvalidArgument)
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			return c, fmt.Errorf("%w: kafka Config.Brokers entry %q is not host:port", walimpls.ErrInvalidArgument, b)
		}
	}
	if len(c.TopicPrefix)+walimpls.MaxChannelNameLen > 249 {
		return c, fmt.Errorf("%w: kafka Config.TopicPrefix is %d bytes; topics are limited to 249 with channels up to %d", walimpls.ErrInvalidArgument, len(c.TopicPrefix), walimpls.MaxChannelNameLen)
	}
	for _, r := range c.TopicPrefix {
		if !(r == '.' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return c, fmt.Errorf("%w: kafka Config.TopicPrefix %q: use letters, digits, '.', '_' and '-'", walimpls.ErrInvalidArgument, c.TopicPrefix)
		}
	}
	switch {
	case c.ReplicationFactor < 0:
		return c, fmt.Errorf("%w: kafka Config.ReplicationFactor %d is negative", walimpls.ErrInvalidArgument, c.ReplicationFactor)
	case c.DialTimeout < 0, c.RequestTimeout < 0, c.WriteTimeout < 0:
		return c, fmt.Errorf("%w: kafka Config timeouts must not be negative", walimpls.ErrInvalidArgument)
	case c.ProducerIDExpiration < 0:
		return c, fmt.Errorf("%w: kafka Config.ProducerIDExpiration %v is negative", walimpls.ErrInvalidArgument, c.ProducerIDExpiration)
	case c.MaxQueuedAppends < 0:
		return c, fmt.Errorf("%w: kafka Config.MaxQueuedAppends %d is negative", walimpls.ErrInvalidArgument, c.MaxQueuedAppends)
	case c.MaxQueuedBytes < 0:
		return c, fmt.Errorf("%w: kafka Config.MaxQueuedBytes %d is negative", walimpls.ErrInvalidArgument, c.MaxQueuedBytes)
	case c.MaxMessageBytes < 0:
		return c, fmt.Errorf("%w: kafka Config.MaxMessageBytes %d is negative", walimpls.ErrInvalidArgument, c.MaxMessageBytes)
	case c.MaxMessageBytes > 0 && c.MaxMessageBytes < 2*batchReserve:
		return c, fmt.Errorf("%w: kafka Config.MaxMessageBytes %d is below %d", walimpls.ErrInvalidArgument, c.MaxMessageBytes, 2*batchReserve)
	}
	if c.ClientID == "" {
		c.ClientID = "mqwal"
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxQueuedAppends == 0 {
		c.MaxQueuedAppends = DefaultMaxQueuedAppends
	}
	if c.MaxQueuedBytes == 0 {
		c.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	return c, nil
}

func (c Config) saslMechanism() (sasl.Mechanism, error) {
	if c.SASL == nil {
		return nil, nil
	}
	s := c.SASL
	if s.Username == "" {
		return nil, fmt.Errorf("%w: kafka Config.SASL.Username is empty", walimpls.ErrInvalidArgument)
	}
	switch strings.ToUpper(s.Mechanism) {
	case SASLPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case SASLScramSHA256:
		return scram.Mechanism(scram.SHA256, s.Username, s.Password)
	case SASLScramSHA512:
		return scram.Mechanism(scram.SHA512, s.Username, s.Password)
	}
	return nil, fmt.Errorf("%w: kafka Config.SASL.Mechanism %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", walimpls.ErrInvalidArgument, s.Mechanism)
}

func (c Config) tlsConfig() (*tls.Config, error) {
	if c.TLS != nil {
		return c.TLS, nil
	}
	f := c.TLSFiles
	if f == nil {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: f.InsecureSkipVerify, ServerName: f.ServerName, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for tests
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: kafka Config.TLSFiles.CAFile: %w", walimpls.ErrInvalidArgument, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: kafka Config.TLSFiles.CAFile %q holds no PEM certificate", walimpls.ErrInvalidArgument, f.CAFile)
		}
		cfg.RootCAs = pool
	}
	if f.CertFile != "" || f.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: kafka Config.TLSFiles.CertFile/KeyFile: %w", walimpls.ErrInvalidArgument, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
