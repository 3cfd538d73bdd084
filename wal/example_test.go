package wal_test

import (
	"context"
	"errors"
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

// Read everything a channel holds now, then stop: LatestID says where the
// end is, and the scan stops at the first message at or after it. The
// newest record may be one no scanner delivers (a fresh writer's fence
// record); then nothing comes at or after it, so a real reader also stops
// after a quiet period.
func ExampleLatestID() {
	ctx := context.Background()
	opener, err := registry.MustGetBuilder("memory").Build()
	if err != nil {
		panic(err)
	}
	defer opener.Close()
	w, err := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "example-latest", Term: 1}})
	if err != nil {
		panic(err)
	}
	for _, p := range []string{"a", "b", "c"} {
		if _, err := w.Append(ctx, message.NewMutableMessage([]byte(p), nil)); err != nil {
			panic(err)
		}
	}
	end, err := wal.LatestID(ctx, w)
	if errors.Is(err, wal.ErrUnsupported) {
		fmt.Println("the backend cannot tell; read with a quiet period instead")
		return
	}
	if err != nil {
		panic(err)
	}
	s, err := w.Read(ctx, wal.ReadOption{DeliverPolicy: wal.DeliverAll()})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	for m := range s.Chan() {
		fmt.Println(string(m.Payload()))
		if !m.MessageID().LT(end) {
			break
		}
	}
	// Output:
	// a
	// b
	// c
}
