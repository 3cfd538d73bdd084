package memory_test

import (
	"context"
	"fmt"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// An application's unit test gets an isolated in-memory WAL.
func ExampleNewBuilder() {
	opener, _ := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	defer opener.Close()
	ctx := context.Background()
	w, _ := opener.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "test-channel"}})
	for _, p := range []string{"a", "b"} {
		_, _ = w.Append(ctx, message.NewMutableMessage([]byte(p), nil))
	}
	s, _ := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	defer s.Close()
	for range 2 {
		m := <-s.Chan()
		fmt.Println(m.MessageID(), string(m.Payload()))
	}
	// Output:
	// 0 a
	// 1 b
}
