package interceptors_test

import (
	"context"
	"fmt"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// A message's term is in its properties; scanners never deliver fence
// records and drop lower terms after a higher one.
func ExampleFence() {
	opener, _ := adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(memory.NewStore()))).Build()
	defer opener.Close()
	ctx := context.Background()
	old, _ := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "ch", Term: 1}})
	_, _ = old.Append(ctx, message.NewMutableMessage([]byte("term 1, before the fence"), nil))
	owner, _ := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "ch", Term: 2}})
	_, _ = old.Append(ctx, message.NewMutableMessage([]byte("term 1, zombie"), nil)) // memory cannot refuse it
	last, _ := owner.Append(ctx, message.NewMutableMessage([]byte("term 2"), nil))

	s, _ := owner.Read(ctx, wal.ReadOption{})
	defer s.Close()
	for m := range s.Chan() {
		fmt.Println(string(m.Payload()), "| term", m.Properties()[interceptors.PropertyTerm])
		if m.MessageID().EQ(last.MessageID) {
			break
		}
	}
	// Output:
	// term 1, before the fence | term 1
	// term 2 | term 2
}
