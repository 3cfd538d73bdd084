package wal_test

import (
	"context"
	"fmt"

	_ "github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/wal/registry"
)

// Read only some messages: by property, then by predicate.
func ExampleFilterProperty() {
	ctx := context.Background()
	opener, err := registry.MustGetBuilder("memory").Build()
	if err != nil {
		panic(err)
	}
	defer opener.Close()
	w, err := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "example-filter", Term: 1}})
	if err != nil {
		panic(err)
	}
	var last message.MessageID
	for i, kind := range []string{"order", "audit", "order", "order"} {
		res, err := w.Append(ctx, message.NewMutableMessage([]byte(fmt.Sprint(kind, i)), message.Properties{"kind": kind}))
		if err != nil {
			panic(err)
		}
		last = res.MessageID
	}
	s, err := w.Read(ctx, wal.ReadOption{
		DeliverPolicy: wal.DeliverAll(),
		Filters: []wal.MessageFilter{
			wal.FilterProperty("kind", "order"),
			wal.FilterPredicate(func(m message.ImmutableMessage) bool { return string(m.Payload()) != "order2" }),
		},
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	for m := range s.Chan() {
		fmt.Println(string(m.Payload()))
		if m.MessageID().EQ(last) {
			break
		}
	}
	// Output:
	// order0
	// order3
}
