// Command quickstart shows mqwal as an application embeds it: load the
// configuration (a YAML file and MQWAL_* variables, see package config), open
// a channel of the backend it names, append, and read back through the wal
// interface. It links the drivers it imports and no others. By default it
// uses the embedded rmq store in a temporary directory, so it needs no server
// and leaves nothing behind.
//
//	go run ./examples/quickstart [-config FILE] [-backend memory|rmq] [-n 5]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/mqwal/mqwal/config"
	_ "github.com/mqwal/mqwal/impls/memory" // registers "memory" and its config section
	"github.com/mqwal/mqwal/impls/rmq"      // registers "rmq" and its config section
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

func main() {
	file := flag.String("config", "", "YAML config `FILE` (default: none; MQWAL_* variables still apply)")
	backend := flag.String("backend", "", "registered backend name, over the config (default rmq)")
	channel := flag.String("channel", "quickstart", "channel name")
	n := flag.Int("n", 5, "messages to append")
	flag.Parse()
	if err := run(*file, *backend, *channel, *n); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(file, backend, channel string, n int) error {
	cfg, err := config.Load(file, config.WithBackend(backend))
	if err != nil {
		return err
	}
	if cfg.Backend == rmq.Name && cfg.Source("rmq.path") == "" {
		// Neither the file nor MQWAL_RMQ_PATH chose a data directory: use
		// a temporary one rather than ./mqwal-data.
		dir, err := os.MkdirTemp("", "mqwal-quickstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.Section(rmq.Name).(*rmq.Section).Path = dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	builder, err := cfg.OpenerBuilder() // metrics: cfg.OpenerBuilder(adaptor.WithHooks(prommetrics.New()))
	if err != nil {
		return err
	}
	opener, err := builder.Build()
	if err != nil {
		return err
	}
	defer opener.Close()
	w, err := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: channel, Term: 1}})
	if err != nil {
		return err
	}
	var first message.MessageID
	for i := range n {
		res, err := w.Append(ctx, message.NewMutableMessage(fmt.Appendf(nil, "hello %d", i), message.Properties{"n": fmt.Sprint(i)}))
		if err != nil {
			return err
		}
		if first == nil {
			first = res.MessageID
		}
		fmt.Printf("appended %s (term %d)\n", res.MessageID, res.Term)
	}
	s, err := w.Read(ctx, wal.ReadOption{DeliverPolicy: wal.StartFrom(first)})
	if err != nil {
		return err
	}
	defer s.Close()
	for range n {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				return fmt.Errorf("scanner ended early: %w", s.Error())
			}
			fmt.Printf("read     %s %q n=%s\n", m.MessageID(), m.Payload(), m.Properties()["n"])
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
