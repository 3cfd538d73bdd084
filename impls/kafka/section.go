package kafka

import (
	"fmt"
	"time"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
	"github.com/mqwal/mqwal/walimpls/section"
)

func init() {
	registry.RegisterSection(Name, DefaultSection)
}

// Section is the Kafka backend's part of a configuration file (package
// config), mapped onto Config:
//
//	kafka:
//	  brokers: [localhost:9092]
//	  topic_prefix: wal-
//	  sasl: {mechanism: SCRAM-SHA-512, username: svc}
type Section struct {
	// Brokers are seed host:port addresses; required when the backend is
	// kafka. A string "a:9092,b:9092" works too.
	Brokers []string `yaml:"brokers"`
	// TopicPrefix is prepended to each channel name to form its topic.
	TopicPrefix string `yaml:"topic_prefix"`
	// CreateTopics lets opening a channel create its topic (one partition);
	// false makes a missing topic an error, for clusters whose topics are
	// managed elsewhere. Default true.
	CreateTopics bool `yaml:"create_topics"`
	// AllowRetention opens existing topics whose broker would delete records
	// that were never truncated (a finite retention.ms or retention.bytes,
	// or compaction); by default opening one fails naming the setting.
	// Topics the driver creates never have retention. Default false.
	AllowRetention bool `yaml:"allow_retention"`
	// ReplicationFactor of created topics; unset means the broker's default.
	ReplicationFactor *int `yaml:"replication_factor"`
	// ClientID is sent to the brokers (default "mqwal").
	ClientID string `yaml:"client_id"`
	// MaxMessageBytes is the brokers' message.max.bytes; 0 reads it from
	// the brokers.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// ProducerIDExpiration is the brokers' producer.id.expiration.ms; a
	// writer idle for half of it checks from the log that no higher term
	// took the channel before it appends again. 0 reads it from the
	// brokers (an hour if they do not say).
	ProducerIDExpiration time.Duration `yaml:"producer_id_expiration"`
	// MaxQueuedAppends and MaxQueuedBytes bound the appends that wait
	// behind a batch the broker has not answered; beyond them an append
	// fails at once as unavailable. 0 means 16384 appends and 16 MiB.
	MaxQueuedAppends int             `yaml:"max_queued_appends"`
	MaxQueuedBytes   int             `yaml:"max_queued_bytes"`
	Timeouts         SectionTimeouts `yaml:"timeouts"`
	SASL             SectionSASL     `yaml:"sasl"`
	TLS              section.TLS     `yaml:"tls"`
}

// SectionTimeouts bound the client's waits.
type SectionTimeouts struct {
	// Dial bounds connecting, TLS and SASL (default 5s).
	Dial time.Duration `yaml:"dial"`
	// Request bounds one request (default 10s).
	Request time.Duration `yaml:"request"`
	// Write bounds how long an append waits for its batch (default 30s).
	Write time.Duration `yaml:"write"`
}

// SectionSASL authenticates every connection when Mechanism is set.
type SectionSASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty turns SASL off.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// Password; prefer MQWAL_KAFKA_SASL_PASSWORD to writing it in a file.
	Password string `yaml:"password"`
}

// DefaultSection is the section with nothing set.
func DefaultSection() *Section {
	return &Section{
		CreateTopics: true,
		ClientID:     "mqwal",
		Timeouts:     SectionTimeouts{Dial: DefaultDialTimeout, Request: DefaultRequestTimeout, Write: DefaultWriteTimeout},
	}
}

// maxTopicLen is Kafka's topic name limit; the prefix and the longest
// channel name (walimpls.MaxChannelNameLen) must fit in it together.
const maxTopicLen = 249

// Check implements section.Section.
func (k *Section) Check(r section.Reporter, selected bool) {
	for i, b := range k.Brokers {
		if msg := section.HostPort(b); msg != "" {
			r.Bad("brokers", "broker %d (%q): %s", i+1, b, msg)
		}
	}
	if max := maxTopicLen - walimpls.MaxChannelNameLen; len(k.TopicPrefix) > max {
		r.Bad("topic_prefix", "must be at most %d bytes (Kafka topics are at most %d with the channel name), got %d", max, maxTopicLen, len(k.TopicPrefix))
	}
	if c, ok := section.BadNameChar(k.TopicPrefix, ""); ok {
		r.Bad("topic_prefix", "may hold only letters, digits, '.', '_' and '-', got %q in %q", c, k.TopicPrefix)
	}
	if k.ReplicationFactor != nil && *k.ReplicationFactor < 1 {
		r.Bad("replication_factor", "must be >= 1, got %d (leave it out for the broker's default)", *k.ReplicationFactor)
	}
	if k.ReplicationFactor != nil && *k.ReplicationFactor > 32767 {
		r.Bad("replication_factor", "must be <= 32767, got %d", *k.ReplicationFactor)
	}
	if k.ClientID == "" {
		r.Bad("client_id", "must not be empty")
	}
	section.NonNegative(r, "max_message_bytes", k.MaxMessageBytes, "")
	section.NonNegative(r, "producer_id_expiration", k.ProducerIDExpiration, "0 reads it from the brokers")
	section.NonNegative(r, "max_queued_appends", k.MaxQueuedAppends, "0 for the default")
	section.NonNegative(r, "max_queued_bytes", k.MaxQueuedBytes, "0 for the default")
	section.Positive(r, "timeouts.dial", k.Timeouts.Dial)
	section.Positive(r, "timeouts.request", k.Timeouts.Request)
	section.Positive(r, "timeouts.write", k.Timeouts.Write)
	switch k.SASL.Mechanism {
	case "":
		if k.SASL.Username != "" || k.SASL.Password != "" {
			r.Bad("sasl.mechanism", "must be set when sasl.username or sasl.password is (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if k.SASL.Username == "" {
			r.Bad("sasl.username", "must be set with sasl.mechanism %s", k.SASL.Mechanism)
		}
	default:
		r.Bad("sasl.mechanism", "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", k.SASL.Mechanism)
	}
	k.TLS.Check(r, "tls")
	if selected && len(k.Brokers) == 0 {
		r.Bad("brokers", "at least one host:port is required for backend kafka (or set %s)", r.EnvVar("brokers"))
	}
}

// Builder implements section.Section. It does no I/O: Build connects.
func (k *Section) Builder(section.Reporter) (walimpls.OpenerBuilderImpls, error) {
	c := Config{
		Brokers:              k.Brokers,
		TopicPrefix:          k.TopicPrefix,
		DisableCreateTopics:  !k.CreateTopics,
		AllowRetention:       k.AllowRetention,
		ClientID:             k.ClientID,
		DialTimeout:          k.Timeouts.Dial,
		RequestTimeout:       k.Timeouts.Request,
		WriteTimeout:         k.Timeouts.Write,
		MaxMessageBytes:      k.MaxMessageBytes,
		ProducerIDExpiration: k.ProducerIDExpiration,
		MaxQueuedAppends:     k.MaxQueuedAppends,
		MaxQueuedBytes:       k.MaxQueuedBytes,
	}
	if k.ReplicationFactor != nil {
		c.ReplicationFactor = *k.ReplicationFactor
	}
	if k.SASL.Mechanism != "" {
		c.SASL = &SASLConfig{Mechanism: k.SASL.Mechanism, Username: k.SASL.Username, Password: k.SASL.Password}
	}
	if k.TLS.Enabled {
		c.TLSFiles = &TLSFiles{
			CAFile:             k.TLS.CAFile,
			CertFile:           k.TLS.CertFile,
			KeyFile:            k.TLS.KeyFile,
			InsecureSkipVerify: k.TLS.InsecureSkipVerify,
			ServerName:         k.TLS.ServerName,
		}
	}
	return NewBuilder(WithConfig(c)), nil
}

// Describe implements section.Describer.
func (k *Section) Describe() string { return fmt.Sprintf("brokers %v", k.Brokers) }
