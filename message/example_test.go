package message_test

import (
	"fmt"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// An application builds a MutableMessage and hands it to Append; property
// keys under the reserved "_mqwal." prefix are refused there.
func ExampleNewMutableMessage() {
	msg := message.NewMutableMessage([]byte("order 42 paid"), message.Properties{"type": "payment"})
	fmt.Println(string(msg.Payload()), msg.Properties()["type"])
	// Output: order 42 paid payment
}

// A backend without a native property format stores payload and
// properties as one versioned record.
func ExampleEncodeRecord() {
	rec := message.EncodeRecord(nil, []byte("hello"), message.Properties{"k": "v"})
	payload, props, err := message.DecodeRecord(rec)
	fmt.Println(string(payload), props["k"], err)
	// Output: hello v <nil>
}

// An ID saved as text (a checkpoint, a CLI argument) comes back through the
// unmarshaler its backend registered under its WAL name (importing a
// driver registers it).
func ExampleUnmarshalMessageID() {
	saved := helper.NewInt64ID(memory.Name, 7).Marshal()

	id, err := message.UnmarshalMessageID(memory.Name, saved)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(id.EQ(helper.NewInt64ID(memory.Name, 7)), id.LT(helper.NewInt64ID(memory.Name, 8)))

	_, err = message.UnmarshalMessageID("no-such-wal", saved)
	fmt.Println(err != nil)
	// Output:
	// true true
	// true
}
