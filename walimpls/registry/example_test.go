package registry_test

import (
	"context"
	"fmt"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
)

// A program picks its backend by the name in its config and opens a channel.
func ExampleGetBuilder() {
	builder, err := registry.GetBuilder("memory") // e.g. cfg.Backend
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
	w, err := opener.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "example-orders", Term: 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	id, _ := w.Append(ctx, message.NewMutableMessage([]byte("order #1"), message.Properties{"kind": "created"}))
	s, _ := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.StartFrom(id)})
	defer s.Close()
	m := <-s.Chan()
	fmt.Printf("%s %s kind=%s\n", m.MessageID().WALName(), m.Payload(), m.Properties()["kind"])

	_, err = registry.GetBuilder("no-such-backend")
	fmt.Println(err != nil)
	// Output:
	// memory order #1 kind=created
	// true
}

// echoBuilder is a new backend. Here it reuses the memory driver's storage;
// a real one would wrap its client. Register it from the driver package's
// init so that importing the package is all a program needs.
type echoBuilder struct{ inner walimpls.OpenerBuilderImpls }

func (echoBuilder) Name() string                           { return "example-echo" }
func (b echoBuilder) Build() (walimpls.OpenerImpls, error) { return b.inner.Build() }

// A driver author adds a backend and registers it under its name.
func ExampleRegisterBuilder() {
	registry.RegisterBuilder(echoBuilder{inner: memory.NewBuilder(memory.WithStore(memory.NewStore()))})
	b := registry.MustGetBuilder("example-echo")
	fmt.Println(b.Name())
	// Output: example-echo
}
