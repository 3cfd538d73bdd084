package config_test

import (
	"context"
	"fmt"
	"os"

	"github.com/mqwal/mqwal/config"
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
	builder, err := cfg.OpenerBuilder()
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
	fmt.Println(cfg.Backend, cfg.RMQ.Sync, res.MessageID.WALName())
	// Output: rmq group rmq
}

func ExampleLoad_noConfig() {
	cfg, err := config.Load("", noEnv)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Backend, cfg.RMQ.Path)
	// Output: rmq ./mqwal-data
}

func ExampleParse_error() {
	_, err := config.Parse("mqwal.yaml", []byte("kafka:\n  replication_factor: 0\n"), noEnv)
	fmt.Println(err)
	// Output: config: mqwal.yaml:2: kafka.replication_factor: must be >= 1, got 0 (leave it out for the broker's default)
}

func ExampleEnvVar() {
	fmt.Println(config.EnvVar("kafka.sasl.password"))
	// Output: MQWAL_KAFKA_SASL_PASSWORD
}
