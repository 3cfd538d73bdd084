package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
)

// DefaultBackend is the backend used when neither the file, MQWAL_BACKEND nor
// WithBackend names one: the embedded store, which needs no server.
const DefaultBackend = "rmq"

// Config is a loaded, validated configuration. Build one with Load, or start
// from Default, change fields and call Validate.
type Config struct {
	// Backend is the registered name of the backend to build.
	Backend string `yaml:"backend"`
	RMQ     RMQ    `yaml:"rmq"`
	Memory  Memory `yaml:"memory"`
	Kafka   Kafka  `yaml:"kafka"`
	Pulsar  Pulsar `yaml:"pulsar"`

	// sources maps a key ("kafka.brokers") to where its value came from
	// ("mqwal.yaml:4", "MQWAL_KAFKA_BROKERS"), so errors can point there.
	sources map[string]string
}

// section is one backend's part of the file. Each knows its own rules and how
// to turn itself into its driver's builder, so adding a backend touches one
// file and one line of sections.
type section interface {
	// check reports invalid values; it runs for every section.
	check(v *validator)
	// require reports what only the selected backend needs.
	require(v *validator)
	// driver builds the configured driver builder; nil means "use the
	// registered builder" (the driver is not wired in this build).
	driver() (walimpls.OpenerBuilderImpls, error)
}

// sections lists the backends that have a section, in file order.
func (c *Config) sections() []struct {
	name string
	s    section
} {
	return []struct {
		name string
		s    section
	}{
		{"rmq", &c.RMQ},
		{"memory", &c.Memory},
		{"kafka", &c.Kafka},
		{"pulsar", &c.Pulsar},
	}
}

func (c *Config) section(name string) section {
	for _, s := range c.sections() {
		if s.name == name {
			return s.s
		}
	}
	return nil
}

// Default returns the configuration used when nothing else is given: rmq in
// ./mqwal-data with fsynced appends, and every section at its defaults.
func Default() *Config {
	return &Config{
		Backend: DefaultBackend,
		RMQ:     defaultRMQ(),
		Memory:  Memory{},
		Kafka:   defaultKafka(),
		Pulsar:  defaultPulsar(),
		sources: map[string]string{},
	}
}

// LoadOption changes how Load reads its inputs.
type LoadOption interface{ apply(*loadOptions) }

type loadOptions struct {
	lookupEnv func(string) (string, bool)
	backend   string
}

type loadOptionFunc func(*loadOptions)

func (f loadOptionFunc) apply(o *loadOptions) { f(o) }

// WithEnv replaces os.LookupEnv as the source of MQWAL_* overrides; tests and
// programs that must ignore the process environment pass their own (or one
// that finds nothing).
func WithEnv(lookup func(key string) (string, bool)) LoadOption {
	return loadOptionFunc(func(o *loadOptions) { o.lookupEnv = lookup })
}

// WithBackend selects the backend, above the file and MQWAL_BACKEND; "" keeps
// theirs. The CLI's --backend flag uses it.
func WithBackend(name string) LoadOption {
	return loadOptionFunc(func(o *loadOptions) { o.backend = name })
}

// Load reads the YAML file at path ("" for none), applies MQWAL_* environment
// overrides and validates the result. Every error is an *Error naming the key.
func Load(path string, opts ...LoadOption) (*Config, error) {
	o := loadOptions{lookupEnv: os.LookupEnv}
	for _, opt := range opts {
		opt.apply(&o)
	}
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			msg := err.Error()
			var pe *os.PathError
			if errors.As(err, &pe) {
				msg = pe.Err.Error() // the path is already the Source
			}
			return nil, &Error{Source: path, Msg: "cannot read file: " + msg, Err: errors.Join(walimpls.ErrInvalidArgument, err)}
		}
		if err := decodeYAML(path, data, c); err != nil {
			return nil, err
		}
	}
	return o.finish(c)
}

// finish applies what overrides the file (environment, then --backend) and
// validates the result: the common end of Load and Parse.
func (o loadOptions) finish(c *Config) (*Config, error) {
	if err := applyEnv(c, o.lookupEnv); err != nil {
		return nil, err
	}
	if o.backend != "" {
		c.Backend = o.backend
		c.sources["backend"] = "--backend"
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse is Load for YAML already in memory; name labels it in errors.
func Parse(name string, data []byte, opts ...LoadOption) (*Config, error) {
	o := loadOptions{lookupEnv: os.LookupEnv}
	for _, opt := range opts {
		opt.apply(&o)
	}
	c := Default()
	if err := decodeYAML(name, data, c); err != nil {
		return nil, err
	}
	return o.finish(c)
}

// Validate checks every section and that Backend is registered, and returns
// the first problem as an *Error.
func (c *Config) Validate() error {
	v := &validator{c: c}
	if c.Backend == "" {
		v.fail("backend", walimpls.ErrInvalidArgument, "must not be empty (registered: %s)", strings.Join(registry.Names(), ", "))
		return v.err
	}
	if !registered(c.Backend) {
		v.fail("backend", walimpls.ErrUnknownBackend, "unknown backend %q (registered: %s)", c.Backend, strings.Join(registry.Names(), ", "))
		return v.err
	}
	for _, s := range c.sections() {
		v.prefix = s.name
		s.s.check(v)
		if s.name == c.Backend {
			s.s.require(v)
		}
	}
	if v.err != nil {
		return v.err
	}
	return nil
}

func registered(name string) bool {
	for _, n := range registry.Names() {
		if n == name {
			return true
		}
	}
	return false
}

// DriverBuilder returns the builder of the configured backend's driver,
// constructed from its section. A registered backend without a section here
// comes from walimpls/registry as registered.
func (c *Config) DriverBuilder() (walimpls.OpenerBuilderImpls, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if s := c.section(c.Backend); s != nil {
		b, err := s.driver()
		if err != nil {
			return nil, err
		}
		if b != nil {
			return b, nil
		}
	}
	b, err := registry.GetBuilder(c.Backend)
	if err != nil {
		return nil, &Error{Key: "backend", Source: c.sources["backend"], Msg: err.Error(), Err: err}
	}
	return b, nil
}

// OpenerBuilder returns the configured backend adapted to the wal interface:
// Build gives a wal.Opener. opts apply to every opener it builds.
func (c *Config) OpenerBuilder(opts ...adaptor.Option) (*adaptor.OpenerBuilder, error) {
	b, err := c.DriverBuilder()
	if err != nil {
		return nil, err
	}
	return adaptor.NewOpenerBuilder(b, opts...), nil
}

// Source says where the value of key ("kafka.brokers") came from: a file
// position ("mqwal.yaml:4"), an environment variable, "--backend", or "" for
// a default or a value set in code.
func (c *Config) Source(key string) string { return c.sources[key] }

// Error is a configuration problem: which key, where its value came from,
// and what is wrong. It wraps walimpls.ErrInvalidArgument, or
// walimpls.ErrUnknownBackend for an unregistered backend, and any cause.
type Error struct {
	// Key is the dotted path of the offending key ("kafka.replication_factor");
	// empty for a problem with the file as a whole.
	Key string
	// Source is where the value came from: "file.yaml:7", "MQWAL_RMQ_SYNC",
	// "--backend"; empty for defaults and values set in code.
	Source string
	// Msg says what is wrong.
	Msg string
	// Err is the sentinel and cause, for errors.Is.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	switch {
	case e.Source != "" && strings.HasPrefix(e.Source, "MQWAL_"):
		// An environment variable is the name the user typed; the key follows.
		fmt.Fprintf(&b, "%s (%s): ", e.Source, e.Key)
	case strings.HasPrefix(e.Source, "--"):
		// A flag is the name the user typed and stands for its key.
		fmt.Fprintf(&b, "%s: ", e.Source)
	case e.Source != "" && e.Key != "":
		fmt.Fprintf(&b, "%s: %s: ", e.Source, e.Key)
	case e.Source != "":
		fmt.Fprintf(&b, "%s: ", e.Source)
	case e.Key != "":
		fmt.Fprintf(&b, "%s: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// validator collects the first problem found.
type validator struct {
	c      *Config
	prefix string
	err    *Error
}

func (v *validator) key(k string) string {
	if v.prefix == "" {
		return k
	}
	return v.prefix + "." + k
}

func (v *validator) fail(key string, sentinel error, format string, args ...any) {
	if v.err != nil {
		return
	}
	v.err = &Error{Key: key, Source: v.c.sources[key], Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// bad reports key (relative to the current section) as invalid.
func (v *validator) bad(key string, format string, args ...any) {
	v.fail(v.key(key), walimpls.ErrInvalidArgument, format, args...)
}
