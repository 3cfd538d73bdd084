package config_test

import (
	"context"
	"fmt"
	"os"

	"github.com/mqwal/mqwal/config"
	_ "github.com/mqwal/mqwal/impls/rmq" // registers rmq and its section
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// noEnv keeps the examples independent of the process environment.
var noEnv = config.WithEnv(func(string) (string, bool) { return "", false })

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "mqwal-example")
	defer os.RemoveAll(dir)
	path := dir + "/mqwal.yaml"
	_ = os.WriteFile(path, []byte("backend: rmq\nrmq:\n  path: "+dir+"/data\n  sync: group\n"), 0o600)

	cfg, err := config.Load(path, noEnv)
	if err != nil {
		fmt.Println(err)
		return
	}
	builder, err := cfg.OpenerBuilder() // add adaptor.WithHooks(prommetrics.New()) here for metrics
	if err != nil {
		fmt.Println(err)
		return
	}
	opener, err := builder.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opener.Close()
	ctx := context.Background()
	w, err := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "orders", Term: 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := w.Append(ctx, message.NewMutableMessage([]byte("hello"), nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Backend, cfg.Source("rmq.sync") != "", res.MessageID.WALName())
	// Output: rmq true rmq
}

func ExampleLoad_noConfig() {
	cfg, err := config.Load("", noEnv)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Backend, cfg.Section("rmq").(interface{ Describe() string }).Describe())
	// Output: rmq data in ./mqwal-data, sync sync
}

func ExampleParse_error() {
	_, err := config.Parse("mqwal.yaml", []byte("rmq:\n  sync: always\n"), noEnv)
	fmt.Println(err)
	// Output: config: mqwal.yaml:2: rmq.sync: must be sync, group or none, got "always"
}

// A backend whose driver is not compiled into the program says which import
// is missing.
func ExampleParse_notRegistered() {
	_, err := config.Parse("mqwal.yaml", []byte("backend: pulsar\n"), noEnv)
	fmt.Println(err)
	// Output: config: mqwal.yaml:1: backend: backend "pulsar" is not registered: import _ "github.com/mqwal/mqwal/impls/pulsar" (registered: example-echo, memory, rmq)
}

func ExampleEnvVar() {
	fmt.Println(config.EnvVar("kafka.sasl.password"))
	// Output: MQWAL_KAFKA_SASL_PASSWORD
}
