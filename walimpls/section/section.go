package section

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mqwal/mqwal/walimpls"
)

// Section is one backend's settings, implemented by a pointer to a struct
// whose exported, yaml-tagged fields are its keys (see the package doc for
// the field types). config fills it from the file, then the environment,
// then calls Check and, for the selected backend, Builder.
type Section interface {
	// Check reports every invalid value through r, with keys relative to
	// the section ("brokers", "tls.ca_file"). selected says whether this
	// section's backend is the one being built: only then may Check
	// require a value that has no default (kafka.brokers), so a file can
	// carry the sections of backends it does not use at the moment.
	Check(r Reporter, selected bool)
	// Builder returns the driver builder the checked values describe. It
	// does no I/O beyond reading files the values name; a problem found
	// only now (a file that cannot be read) is reported through r, which
	// then wins over the returned error.
	Builder(r Reporter) (walimpls.OpenerBuilderImpls, error)
}

// Describer is implemented by a Section that can say in a few words where
// its backend keeps the data ("data in ./mqwal-data, sync sync", "brokers
// [a:9092]"); walctl prints it.
type Describer interface {
	Describe() string
}

// Reporter collects a section's problems; config turns the first one into
// an error naming the key's full path and where its value came from (a file
// line or an environment variable).
type Reporter interface {
	// Bad reports key, relative to the section, as invalid: format and
	// args say what is wrong ("must be >= 1, got 0").
	Bad(key, format string, args ...any)
	// EnvVar is the environment variable of key, relative to the section
	// ("brokers" in kafka: "MQWAL_KAFKA_BROKERS"), for messages that point
	// to it.
	EnvVar(key string) string
}

// TLS configures encrypted connections from PEM files; kafka and pulsar
// share its shape (pulsar accepts a subset).
type TLS struct {
	// Enabled turns TLS on (for pulsar, a pulsar+ssl:// url does too).
	Enabled bool `yaml:"enabled"`
	// CAFile holds the CAs to trust; empty means the system pool.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate, both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate: tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Check reports a certificate without its key (or the reverse), files that
// cannot be read, and TLS settings given while TLS is off; key is the TLS
// mapping's key in the section ("tls").
func (t TLS) Check(r Reporter, key string) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		r.Bad(key+".cert_file", "cert_file and key_file go together (got cert_file %q, key_file %q)", t.CertFile, t.KeyFile)
	}
	for _, f := range []struct{ key, path string }{
		{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if err := StatFile(f.path); err != nil {
			r.Bad(key+"."+f.key, "cannot read %s: %v", f.path, err)
		}
	}
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		r.Bad(key+".enabled", "is false but other tls keys are set; set enabled: true or remove them")
	}
}

// StatFile checks that path exists, and returns the cause without the path
// (the message names it already): "no such file or directory".
func StatFile(path string) error {
	_, err := os.Stat(path)
	return Unwrap(err)
}

// Unwrap returns the cause of an *os.PathError, which repeats the path.
func Unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// HostPort returns what is wrong with a host:port address, "" if nothing.
func HostPort(addr string) string {
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

// BadNameChar finds the first character of s outside letters, digits, '.',
// '_', '-' and the characters of extra: what topic, tenant and namespace
// names may hold.
func BadNameChar(s, extra string) (string, bool) {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		case strings.ContainsRune(extra, r):
		default:
			return string(r), true
		}
	}
	return "", false
}

// NonNegative reports key when v < 0: "must be >= 0 (note), got v"; note
// says what 0 means, "" for nothing.
func NonNegative[T int | time.Duration](r Reporter, key string, v T, note string) {
	if v < 0 {
		if note != "" {
			note = " (" + note + ")"
		}
		r.Bad(key, "must be >= 0%s, got %v", note, v)
	}
}

// Positive reports key unless d > 0.
func Positive(r Reporter, key string, d time.Duration) {
	if d <= 0 {
		r.Bad(key, "must be > 0, got %s", d)
	}
}
