package helper

import (
	"errors"
	"testing"

	"github.com/mqwal/mqwal/message"
)

func TestInt64IDOrderAndCodec(t *testing.T) {
	a, b := NewInt64ID("t", 3), NewInt64ID("t", 10)
	if !a.LT(b) || !a.LTE(b) || a.EQ(b) || b.LT(a) || !a.EQ(NewInt64ID("t", 3)) {
		t.Fatal("Int64ID order is wrong")
	}
	if a.LT(NewInt64ID("u", 99)) || a.EQ(NewInt64ID("u", 3)) {
		t.Fatal("IDs of different backends must not compare")
	}
	back, err := ParseInt64ID("t", b.Marshal())
	if err != nil || !back.EQ(b) {
		t.Fatalf("round trip: %v, %v", back, err)
	}
	for _, bad := range []string{"", "-1", "+1", "01", "1e3", " 1", "9223372036854775808"} {
		if _, err := ParseInt64ID("t", bad); !errors.Is(err, message.ErrInvalidArgument) {
			t.Errorf("ParseInt64ID(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

func FuzzParseInt64ID(f *testing.F) {
	for _, s := range []string{"0", "42", "-1", "007", "9223372036854775807", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseInt64ID("t", s)
		if err != nil {
			return
		}
		if id.Marshal() != s {
			t.Fatalf("%q parsed to %v, which marshals as %q", s, id, id.Marshal())
		}
	})
}
