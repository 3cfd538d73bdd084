package pulsar

import (
	"errors"
	"testing"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/message"
)

func TestIDOrder(t *testing.T) {
	ordered := []ID{{1, 0, 0}, {1, 0, 1}, {1, 1, 0}, {1, 10, 0}, {2, 0, 0}, {10, 0, 0}}
	for i, a := range ordered {
		if !a.EQ(a) || a.LT(a) || !a.LTE(a) {
			t.Fatalf("%v is not EQ itself", a)
		}
		for _, b := range ordered[i+1:] {
			if !a.LT(b) || !a.LTE(b) || b.LT(a) || b.LTE(a) || a.EQ(b) {
				t.Fatalf("%v and %v compare wrongly", a, b)
			}
		}
	}
	if (ID{1, 2, 3}).LT(foreign{}) || (ID{1, 2, 3}).EQ(foreign{}) {
		t.Fatal("a foreign ID compares with a pulsar ID")
	}
}

type foreign struct{ message.MessageID }

func TestIDFromClient(t *testing.T) {
	// GET_LAST_MESSAGE_ID reports batch index -1 for a message that is not
	// batched; send and receive report 0 for the same message.
	if got := idOf(pc.NewMessageID(3, 4, -1, 0)); got != (ID{3, 4, 0}) {
		t.Fatalf("idOf(3:4:-1) = %v", got)
	}
	if (ID{-1, -1, 0}).valid() || !(ID{0, 0, 0}).valid() {
		t.Fatal("valid is wrong")
	}
}

func TestParseID(t *testing.T) {
	id := ID{7, 12, 3}
	back, err := message.UnmarshalMessageID(Name, id.Marshal())
	if err != nil || !back.EQ(id) {
		t.Fatalf("round trip of %v: %v, %v", id, back, err)
	}
	for _, bad := range []string{"", "1:2", "1:2:3:4", "-1:0:0", "01:0:0", "1:+2:0", "1:2:2147483648", "a:b:c", " 1:2:3", "1:2:3\n"} {
		if _, err := ParseID(bad); !errors.Is(err, message.ErrInvalidArgument) {
			t.Errorf("ParseID(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

func FuzzUnmarshalMessageID(f *testing.F) {
	for _, s := range []string{"0:0:0", "1:2:3", "9223372036854775807:1:2147483647", "-1:-1:-1", "1:02:3", "1::3", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := message.UnmarshalMessageID(Name, s)
		if err != nil {
			if !errors.Is(err, message.ErrInvalidArgument) {
				t.Fatalf("%q: error %v does not wrap ErrInvalidArgument", s, err)
			}
			return
		}
		if id.Marshal() != s {
			t.Fatalf("%q parsed to %v, which marshals as %q", s, id, id.Marshal())
		}
		if !id.EQ(id) || id.LT(id) {
			t.Fatalf("%v does not equal itself", id)
		}
	})
}
