package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
	"github.com/mqwal/mqwal/walimpls/section"
)

// DefaultBackend is the backend used when neither the file, MQWAL_BACKEND nor
// WithBackend names one: the embedded store, which needs no server.
const DefaultBackend = "rmq"

// Config is a loaded, validated configuration. Build one with Load, or start
// from Default, change fields (and sections, through Section) and call
// Validate.
type Config struct {
	// Backend is the registered name of the backend to build.
	Backend string `yaml:"backend"`
	// Adaptor holds what every backend gets from the adaptor.
	Adaptor Adaptor `yaml:"adaptor"`
	// Log selects the logger the adaptor logs through.
	Log Log `yaml:"log"`

	// sections holds every registered backend's section, by name: at its
	// defaults, or as the file and the environment set it.
	sections map[string]section.Section
	// sources maps a key ("kafka.brokers") to where its value came from
	// ("mqwal.yaml:4", "MQWAL_KAFKA_BROKERS"), so errors can point there.
	sources map[string]string
	// warnings are the problems Load found that do not stop it.
	warnings []*Error
	// logger is WithLogger's, which wins over Log.
	logger *slog.Logger
}

// Default returns the configuration used when nothing else is given: rmq
// with its defaults (./mqwal-data, fsynced appends), the adaptor's defaults,
// no logging, and every registered backend's section at its defaults.
func Default() *Config {
	c := &Config{
		Backend:  DefaultBackend,
		Adaptor:  defaultAdaptor(),
		Log:      defaultLog(),
		sections: map[string]section.Section{},
		sources:  map[string]string{},
	}
	for _, name := range registry.SectionNames() {
		c.sections[name], _ = registry.NewSection(name)
	}
	return c
}

// Section returns backend name's section, which the caller may change
// before Validate or DriverBuilder; nil if no section is registered under
// name. Its concrete type is the driver's (*kafka.Section for "kafka").
func (c *Config) Section(name string) section.Section { return c.sections[name] }

// sectionNames lists the sections in the order they are checked and listed.
func (c *Config) sectionNames() []string { return slices.Sorted(maps.Keys(c.sections)) }

// Clone returns a deep copy of c: changing one's sections leaves the
// other's as they were.
func (c *Config) Clone() *Config {
	d := new(Config)
	deepCopy(reflect.ValueOf(d).Elem(), reflect.ValueOf(c).Elem())
	d.sources = maps.Clone(c.sources)
	d.warnings = slices.Clone(c.warnings)
	d.sections = make(map[string]section.Section, len(c.sections))
	for name, s := range c.sections {
		p := reflect.New(reflect.TypeOf(s).Elem())
		deepCopy(p.Elem(), reflect.ValueOf(s).Elem())
		d.sections[name] = p.Interface().(section.Section)
	}
	return d
}

// deepCopy copies src into dst, both of one struct type made of the field
// types config decodes, sharing no slice or pointer among its exported
// fields (the caller copies the unexported ones it needs to).
func deepCopy(dst, src reflect.Value) {
	dst.Set(src)
	for i := range src.NumField() {
		f := dst.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Struct:
			deepCopy(f, src.Field(i))
		case reflect.Slice:
			if !src.Field(i).IsNil() {
				f.Set(reflect.AppendSlice(reflect.MakeSlice(f.Type(), 0, src.Field(i).Len()), src.Field(i)))
			}
		case reflect.Pointer:
			if !src.Field(i).IsNil() {
				p := reflect.New(f.Type().Elem())
				p.Elem().Set(src.Field(i).Elem())
				f.Set(p)
			}
		}
	}
}

// LoadOption changes how Load reads its inputs.
type LoadOption interface{ apply(*loadOptions) }

type loadOptions struct {
	lookupEnv func(string) (string, bool)
	// environ lists the variables set, to find unknown MQWAL_* names; nil
	// when WithEnv gave only a lookup.
	environ []string
	backend string
	logger  *slog.Logger
	warn    func(*Error)
}

type loadOptionFunc func(*loadOptions)

func (f loadOptionFunc) apply(o *loadOptions) { f(o) }

// WithEnv replaces os.LookupEnv as the source of MQWAL_* overrides; tests and
// programs that must ignore the process environment pass their own (or one
// that finds nothing). A lookup cannot list what is set, so misspelt
// variables are not reported; WithEnviron can.
func WithEnv(lookup func(key string) (string, bool)) LoadOption {
	return loadOptionFunc(func(o *loadOptions) { o.lookupEnv, o.environ = lookup, nil })
}

// WithEnviron replaces the process environment with env, in the form of
// os.Environ ("KEY=value"). A MQWAL_* variable in it that is no key of this
// build is reported as a warning naming the nearest known one.
func WithEnviron(env []string) LoadOption {
	return loadOptionFunc(func(o *loadOptions) {
		m := make(map[string]string, len(env))
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		o.lookupEnv = func(k string) (string, bool) { v, ok := m[k]; return v, ok }
		o.environ = slices.Clone(env)
	})
}

// WithBackend selects the backend, above the file and MQWAL_BACKEND; "" keeps
// theirs. The CLI's --backend flag uses it.
func WithBackend(name string) LoadOption {
	return loadOptionFunc(func(o *loadOptions) { o.backend = name })
}

// WithLogger gives the program's logger: the adaptor logs through it
// (whatever the file's log section says: code wins), and Load reports its
// warnings there.
func WithLogger(l *slog.Logger) LoadOption {
	return loadOptionFunc(func(o *loadOptions) { o.logger = l })
}

// WithWarnings makes Load hand each warning (see Config.Warnings) to fn
// instead of logging it. walctl prints them on stderr.
func WithWarnings(fn func(w *Error)) LoadOption {
	return loadOptionFunc(func(o *loadOptions) { o.warn = fn })
}

func newLoadOptions(opts []LoadOption) loadOptions {
	o := loadOptions{lookupEnv: os.LookupEnv, environ: os.Environ()}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	return o
}

// Load reads the YAML file at path ("" for none), applies MQWAL_* environment
// overrides and validates the result. Every error is an *Error naming the
// key. Problems that do not stop it (a misspelt MQWAL_* variable, an empty
// file) are warnings: see Config.Warnings for where they go.
func Load(path string, opts ...LoadOption) (*Config, error) {
	o := newLoadOptions(opts)
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			msg := section.Unwrap(err).Error() // the path is already the Source
			return nil, &Error{Source: path, Msg: "cannot read file: " + msg, Err: errors.Join(walimpls.ErrInvalidArgument, err)}
		}
		note, err := o.decode(c, path, data)
		if err != nil {
			return nil, err
		}
		return o.finish(c, note)
	}
	return o.finish(c, "")
}

// Parse is Load for YAML already in memory; name labels it in errors.
func Parse(name string, data []byte, opts ...LoadOption) (*Config, error) {
	o := newLoadOptions(opts)
	c := Default()
	note, err := o.decode(c, name, data)
	if err != nil {
		return nil, err
	}
	return o.finish(c, note)
}

// decode reads the file into c and warns of an empty one. It returns what
// to say if the backend stays the default although the file configures
// another (the environment or --backend may still select one).
func (o loadOptions) decode(c *Config, name string, data []byte) (noBackend string, err error) {
	empty, err := decodeYAML(name, data, c)
	if err != nil {
		return "", err
	}
	if empty {
		c.warn(&Error{Source: name, Msg: fmt.Sprintf("the file is empty, so the defaults apply (backend %s). "+
			"A config another process writes may not be complete yet: walctl dev-broker --config-out writes it whole once the broker is up, "+
			"while a shell redirect (dev-broker ... > %s) creates it empty first", DefaultBackend, name)})
		return "", nil
	}
	if _, named := c.sources["backend"]; !named {
		var others []string
		for _, s := range c.sectionNames() {
			if _, set := c.sources[s]; set && s != DefaultBackend {
				others = append(others, s)
			}
		}
		if len(others) > 0 {
			return fmt.Sprintf("%s configures %s but names no backend; add backend: %s", name, strings.Join(others, ", "), others[0]), nil
		}
	}
	return "", nil
}

// finish applies what overrides the file (environment, then --backend),
// validates the result and reports the warnings: the common end of Load and
// Parse.
func (o loadOptions) finish(c *Config, noBackend string) (*Config, error) {
	c.logger = o.logger
	err := applyEnv(c, o.lookupEnv)
	if err == nil && o.backend != "" {
		c.Backend = o.backend
		c.sources["backend"] = "--backend"
	}
	if noBackend != "" && c.sources["backend"] == "" {
		c.warn(&Error{Key: "backend", Msg: noBackend + " (using " + DefaultBackend + ", the default)"})
	}
	unknownEnv(c, o.environ)
	if err == nil {
		err = c.Validate()
	}
	// Warnings go out even when Load fails: a misspelt variable often
	// explains the error.
	for _, w := range c.warnings {
		switch {
		case o.warn != nil:
			o.warn(w)
		case c.Logger() != nil:
			c.Logger().Warn(w.Error())
		default:
			slog.Warn(w.Error())
		}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Warnings are the problems Load found that did not stop it: MQWAL_*
// variables that are no key of this build (with the nearest known name),
// an empty file, a file that configures a backend but does not select it.
// Load hands each to WithWarnings's function; without one it logs them at
// warn level through WithLogger's logger, else the log section's, else
// slog.Default(), since a variable nobody reads is a setting nobody
// applies.
func (c *Config) Warnings() []*Error { return slices.Clone(c.warnings) }

func (c *Config) warn(w *Error) { c.warnings = append(c.warnings, w) }

// Validate checks the top level, every section and that Backend is
// registered, and returns the first problem as an *Error.
func (c *Config) Validate() error {
	v := &validator{c: c}
	switch {
	case c.Backend == "":
		v.fail("backend", walimpls.ErrInvalidArgument, "must not be empty (registered: %s)", strings.Join(registry.Names(), ", "))
	case !slices.Contains(registry.Names(), c.Backend):
		if c.Backend == DefaultBackend && c.sources["backend"] == "" {
			// Nothing selected a backend, and the program links drivers
			// other than the default's.
			v.fail("backend", walimpls.ErrUnknownBackend, "no backend is selected and the default, %s, is not registered: select one of %s (backend, MQWAL_BACKEND), or import _ %q",
				DefaultBackend, strings.Join(registry.Names(), ", "), builtinImport(DefaultBackend))
		} else if imp := builtinImport(c.Backend); imp != "" {
			v.fail("backend", walimpls.ErrUnknownBackend, "%s (registered: %s)", notRegistered(c.Backend, imp), strings.Join(registry.Names(), ", "))
		} else {
			v.fail("backend", walimpls.ErrUnknownBackend, "unknown backend %q (registered: %s)", c.Backend, strings.Join(registry.Names(), ", "))
		}
	}
	if v.err != nil {
		return v.err
	}
	c.checkTop(v)
	for _, name := range c.sectionNames() {
		v.prefix = name
		if err := checkShape(name, c.sections[name]); err != nil {
			return err
		}
		c.sections[name].Check(v, name == c.Backend)
	}
	if v.err != nil {
		return v.err
	}
	return nil
}

// DriverBuilder returns the builder of the configured backend's driver,
// made by its section from the loaded values. A registered backend without
// a section comes from walimpls/registry as registered.
func (c *Config) DriverBuilder() (walimpls.OpenerBuilderImpls, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if s := c.sections[c.Backend]; s != nil {
		v := &validator{c: c, prefix: c.Backend}
		b, err := s.Builder(v)
		switch {
		case v.err != nil:
			return nil, v.err
		case err != nil:
			return nil, &Error{Key: c.Backend, Msg: err.Error(), Err: err}
		case b != nil:
			return b, nil
		}
	}
	b, err := registry.GetBuilder(c.Backend)
	if err != nil {
		return nil, &Error{Key: "backend", Source: c.sources["backend"], Msg: err.Error(), Err: err}
	}
	return b, nil
}

// OpenerBuilder returns the configured backend adapted to the wal interface,
// with the adaptor settings of the file (AdaptorOptions): Build gives a
// wal.Opener. opts come after those, so the program's options win; that is
// where metrics go (adaptor.WithHooks(prommetrics.New())): config never
// imports a metrics library.
func (c *Config) OpenerBuilder(opts ...adaptor.Option) (*adaptor.OpenerBuilder, error) {
	b, err := c.DriverBuilder()
	if err != nil {
		return nil, err
	}
	return adaptor.NewOpenerBuilder(b, append(c.AdaptorOptions(), opts...)...), nil
}

// Source says where the value of key ("kafka.brokers") came from: a file
// position ("mqwal.yaml:4"), an environment variable, "--backend", or "" for
// a default or a value set in code.
func (c *Config) Source(key string) string { return c.sources[key] }

// Error is a configuration problem: which key, where its value came from,
// and what is wrong. It wraps walimpls.ErrInvalidArgument, or
// walimpls.ErrUnknownBackend for a backend that is not registered, and any
// cause. A warning (Config.Warnings) is an Error that wraps nothing.
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
	case strings.HasPrefix(e.Source, EnvPrefix) && e.Key != "":
		// An environment variable is the name the user typed; the key follows.
		fmt.Fprintf(&b, "%s (%s): ", e.Source, e.Key)
	case strings.HasPrefix(e.Source, "--"), strings.HasPrefix(e.Source, EnvPrefix):
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

// validator collects the first problem found; it is the section.Reporter
// of the section named prefix.
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

// Bad reports key (relative to the current section) as invalid.
func (v *validator) Bad(key string, format string, args ...any) {
	v.fail(v.key(key), walimpls.ErrInvalidArgument, format, args...)
}

// EnvVar is the environment variable of key in the current section.
func (v *validator) EnvVar(key string) string { return EnvVar(v.key(key)) }
