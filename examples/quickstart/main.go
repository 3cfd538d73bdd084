// Command quickstart shows mqwal as an application embeds it: pick a
// backend by name, open a channel, append, and read back through the wal
// interface. By default it uses the embedded rmq store in a temporary
// directory, so it needs no server and leaves nothing behind.
//
//	go run ./examples/quickstart [-backend memory|rmq] [-n 5]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	_ "github.com/mqwal/mqwal/impls/memory"
	_ "github.com/mqwal/mqwal/impls/rmq"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/wal/registry"
)

func main() {
	backend := flag.String("backend", "rmq", "registered backend name")
	channel := flag.String("channel", "quickstart", "channel name")
	n := flag.Int("n", 5, "messages to append")
	flag.Parse()
	if err := run(*backend, *channel, *n); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(backend, channel string, n int) error {
	if backend == "rmq" && os.Getenv("MQWAL_RMQ_PATH") == "" {
		dir, err := os.MkdirTemp("", "mqwal-quickstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		os.Setenv("MQWAL_RMQ_PATH", dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	builder, err := registry.GetBuilder(backend)
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
