package config_test

import (
	"fmt"

	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
	"github.com/mqwal/mqwal/walimpls/section"
)

// echoSection is the configuration section of "example-echo", a driver
// that lives outside this module: a struct with yaml tags, its defaults,
// its checks and how it becomes the driver's builder. config knows nothing
// of it beyond what it registers.
type echoSection struct {
	Greeting string `yaml:"greeting"`
	Limits   struct {
		MaxMessageSize int `yaml:"max_message_size"`
	} `yaml:"limits"`
}

func (s *echoSection) Check(r section.Reporter, selected bool) {
	if s.Limits.MaxMessageSize < 0 {
		r.Bad("limits.max_message_size", "must be >= 0, got %d", s.Limits.MaxMessageSize)
	}
	if selected && s.Greeting == "" {
		r.Bad("greeting", "is required for backend example-echo (or set %s)", r.EnvVar("greeting"))
	}
}

func (s *echoSection) Builder(section.Reporter) (walimpls.OpenerBuilderImpls, error) {
	// A real driver wraps its client; this one reuses the memory driver.
	return echoBuilder{greeting: s.Greeting, inner: memory.NewBuilder(memory.WithMaxMessageSize(s.Limits.MaxMessageSize))}, nil
}

type echoBuilder struct {
	greeting string
	inner    walimpls.OpenerBuilderImpls
}

func (echoBuilder) Name() string                           { return "example-echo" }
func (b echoBuilder) Build() (walimpls.OpenerImpls, error) { return b.inner.Build() }

// The driver package registers its builder and its section in init.
func init() {
	registry.RegisterBuilder(echoBuilder{greeting: "hello"})
	registry.RegisterSection("example-echo", func() *echoSection { return &echoSection{} })
}

// A driver from another module takes part in config files: its keys, its
// checks with the key path in errors, and its MQWAL_EXAMPLE_ECHO_*
// variables, like the built-in backends.
func Example_thirdPartySection() {
	cfg, err := config.Parse("svc.yaml", []byte("backend: example-echo\nexample-echo:\n  greeting: bonjour\n"), noEnv)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := cfg.DriverBuilder()
	fmt.Println(b.Name(), b.(echoBuilder).greeting)

	_, err = config.Parse("svc.yaml", []byte("backend: example-echo\nexample-echo:\n  limits: {max_message_size: -1}\n"), noEnv)
	fmt.Println(err)
	_, err = config.Parse("svc.yaml", []byte("backend: example-echo\n"), noEnv)
	fmt.Println(err)
	// Output:
	// example-echo bonjour
	// config: svc.yaml:3: example-echo.limits.max_message_size: must be >= 0, got -1
	// config: example-echo.greeting: is required for backend example-echo (or set MQWAL_EXAMPLE_ECHO_GREETING)
}
