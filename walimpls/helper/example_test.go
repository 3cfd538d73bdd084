package helper_test

import (
	"context"
	"fmt"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// A driver's read loop only reads and emits; the Scanner owns the
// goroutine, the read-ahead channel and the end-of-life order.
func ExampleNewScanner() {
	log := []string{"a", "b", "c"}
	s := helper.NewScanner("example", 16, func(ctx context.Context, emit helper.Emit) error {
		for i, p := range log {
			id := helper.NewInt64ID("example", int64(i))
			if err := emit(message.NewImmutableMessage(id, "ch", []byte(p), nil)); err != nil {
				return err // the scanner is stopping
			}
		}
		<-ctx.Done() // a real driver waits for new appends here
		return nil
	})
	for range log {
		msg := <-s.Chan()
		fmt.Println(msg.MessageID(), string(msg.Payload()))
	}
	fmt.Println(s.Close())
	// Output:
	// 0 a
	// 1 b
	// 2 c
	// <nil>
}

// Int64ID is the MessageID of any backend whose positions are one int64
// (an offset, a sequence): ordered, with a text form that parses back.
func ExampleParseInt64ID() {
	id, err := helper.ParseInt64ID("example", "41")
	fmt.Println(id.Value(), err, id.LT(helper.NewInt64ID("example", 42)))

	_, err = helper.ParseInt64ID("example", "forty-one")
	fmt.Println(err != nil)
	// Output:
	// 41 <nil> true
	// true
}
