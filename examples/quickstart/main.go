// Command quickstart appends a few messages to a channel and reads them back,
// on the backend named by -backend (default: the in-memory reference driver).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	_ "github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
)

func main() {
	backend := flag.String("backend", "memory", "registered backend name")
	channel := flag.String("channel", "quickstart", "channel name")
	n := flag.Int("n", 5, "messages to append")
	flag.Parse()
	if err := run(*backend, *channel, *n); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(backend, channel string, n int) error {
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
	w, err := opener.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: channel, Term: 1}})
	if err != nil {
		return err
	}
	var first message.MessageID
	for i := range n {
		id, err := w.Append(ctx, message.NewMutableMessage(fmt.Appendf(nil, "hello %d", i), message.Properties{"n": fmt.Sprint(i)}))
		if err != nil {
			return err
		}
		if first == nil {
			first = id
		}
		fmt.Printf("appended %s\n", id)
	}
	s, err := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.StartFrom(first)})
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
