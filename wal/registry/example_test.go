package registry_test

import (
	"context"
	"fmt"

	_ "github.com/mqwal/mqwal/impls/memory" // registers the "memory" backend
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/wal/registry"
)

// Pick a backend by name, open a channel, append, read back.
func ExampleMustGetBuilder() {
	ctx := context.Background()
	opener, err := registry.MustGetBuilder("memory").Build()
	if err != nil {
		panic(err)
	}
	defer opener.Close()

	w, err := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "example-orders", Term: 1}})
	if err != nil {
		panic(err)
	}
	for _, p := range []string{"created", "paid", "shipped"} {
		if _, err := w.Append(ctx, message.NewMutableMessage([]byte(p), message.Properties{"order": "42"})); err != nil {
			panic(err)
		}
	}

	s, err := w.Read(ctx, wal.ReadOption{DeliverPolicy: wal.DeliverAll()})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	for i := 0; i < 3; i++ {
		msg := <-s.Chan()
		fmt.Println(string(msg.Payload()), msg.Properties()["order"])
	}
	// Output:
	// created 42
	// paid 42
	// shipped 42
}

// An unknown name lists the registered backends.
func ExampleGetBuilder() {
	_, err := registry.GetBuilder("kafak")
	fmt.Println(err)
	// Output:
	// unknown backend "kafak" (registered: memory)
}
