package config

import (
	"net"
	"strconv"
	"time"

	"github.com/mqwal/mqwal/impls/kafka"
	"github.com/mqwal/mqwal/walimpls"
)

// Kafka is the section of the Kafka backend (impls/kafka).
type Kafka struct {
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
	MaxQueuedAppends int           `yaml:"max_queued_appends"`
	MaxQueuedBytes   int           `yaml:"max_queued_bytes"`
	Timeouts         KafkaTimeouts `yaml:"timeouts"`
	SASL             KafkaSASL     `yaml:"sasl"`
	TLS              TLS           `yaml:"tls"`
}

// KafkaTimeouts bound the client's waits.
type KafkaTimeouts struct {
	// Dial bounds connecting, TLS and SASL (default 5s).
	Dial time.Duration `yaml:"dial"`
	// Request bounds one request (default 10s).
	Request time.Duration `yaml:"request"`
	// Write bounds how long an append waits for its batch (default 30s).
	Write time.Duration `yaml:"write"`
}

// KafkaSASL authenticates every connection when Mechanism is set.
type KafkaSASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty turns SASL off.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// Password; prefer MQWAL_KAFKA_SASL_PASSWORD to writing it in a file.
	Password string `yaml:"password"`
}

func defaultKafka() Kafka {
	return Kafka{
		CreateTopics: true,
		ClientID:     "mqwal",
		Timeouts:     KafkaTimeouts{Dial: 5 * time.Second, Request: 10 * time.Second, Write: 30 * time.Second},
	}
}

// kafkaMaxTopicLen is Kafka's topic name limit; the prefix and the longest
// channel name (walimpls.MaxChannelNameLen) must fit in it together.
const kafkaMaxTopicLen = 249

func (k *Kafka) check(v *validator) {
	for i, b := range k.Brokers {
		if msg := checkHostPort(b); msg != "" {
			v.bad("brokers", "broker %d (%q): %s", i+1, b, msg)
		}
	}
	if max := kafkaMaxTopicLen - walimpls.MaxChannelNameLen; len(k.TopicPrefix) > max {
		v.bad("topic_prefix", "must be at most %d bytes (Kafka topics are at most %d with the channel name), got %d", max, kafkaMaxTopicLen, len(k.TopicPrefix))
	}
	if c, ok := firstBadTopicChar(k.TopicPrefix, ""); ok {
		v.bad("topic_prefix", "may hold only letters, digits, '.', '_' and '-', got %q in %q", c, k.TopicPrefix)
	}
	if k.ReplicationFactor != nil && *k.ReplicationFactor < 1 {
		v.bad("replication_factor", "must be >= 1, got %d (leave it out for the broker's default)", *k.ReplicationFactor)
	}
	if k.ReplicationFactor != nil && *k.ReplicationFactor > 32767 {
		v.bad("replication_factor", "must be <= 32767, got %d", *k.ReplicationFactor)
	}
	if k.ClientID == "" {
		v.bad("client_id", "must not be empty")
	}
	if k.MaxMessageBytes < 0 {
		v.bad("max_message_bytes", "must be >= 0, got %d", k.MaxMessageBytes)
	}
	if k.ProducerIDExpiration < 0 {
		v.bad("producer_id_expiration", "must be >= 0 (0 reads it from the brokers), got %s", k.ProducerIDExpiration)
	}
	if k.MaxQueuedAppends < 0 {
		v.bad("max_queued_appends", "must be >= 0 (0 for the default), got %d", k.MaxQueuedAppends)
	}
	if k.MaxQueuedBytes < 0 {
		v.bad("max_queued_bytes", "must be >= 0 (0 for the default), got %d", k.MaxQueuedBytes)
	}
	positive(v, "timeouts.dial", k.Timeouts.Dial)
	positive(v, "timeouts.request", k.Timeouts.Request)
	positive(v, "timeouts.write", k.Timeouts.Write)
	switch k.SASL.Mechanism {
	case "":
		if k.SASL.Username != "" || k.SASL.Password != "" {
			v.bad("sasl.mechanism", "must be set when sasl.username or sasl.password is (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if k.SASL.Username == "" {
			v.bad("sasl.username", "must be set with sasl.mechanism %s", k.SASL.Mechanism)
		}
	default:
		v.bad("sasl.mechanism", "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", k.SASL.Mechanism)
	}
	k.TLS.check(v, "tls")
}

func (k *Kafka) require(v *validator) {
	if len(k.Brokers) == 0 {
		v.bad("brokers", "at least one host:port is required for backend kafka (or set %s)", EnvVar("kafka.brokers"))
	}
}

func positive(v *validator, key string, d time.Duration) {
	if d <= 0 {
		v.bad(key, "must be > 0, got %s", d)
	}
}

// checkHostPort returns what is wrong with a host:port address, "" if nothing.
func checkHostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port"
	}
	if host == "" {
		return "host must not be empty"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "port must be 1..65535"
	}
	return ""
}

// firstBadTopicChar finds a character outside [A-Za-z0-9._-] plus extra.
func firstBadTopicChar(s, extra string) (string, bool) {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		case extra != "" && containsRune(extra, r):
		default:
			return string(r), true
		}
	}
	return "", false
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

func (k *Kafka) driver() (walimpls.OpenerBuilderImpls, error) {
	c := kafka.Config{
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
		c.SASL = &kafka.SASLConfig{Mechanism: k.SASL.Mechanism, Username: k.SASL.Username, Password: k.SASL.Password}
	}
	if k.TLS.Enabled {
		c.TLSFiles = &kafka.TLSFiles{
			CAFile:             k.TLS.CAFile,
			CertFile:           k.TLS.CertFile,
			KeyFile:            k.TLS.KeyFile,
			InsecureSkipVerify: k.TLS.InsecureSkipVerify,
			ServerName:         k.TLS.ServerName,
		}
	}
	return kafka.NewBuilder(kafka.WithConfig(c)), nil
}
