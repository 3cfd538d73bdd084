package message

import (
	"errors"
	"testing"
)

func TestWithPropertyCopies(t *testing.T) {
	orig := NewMutableMessage([]byte("p"), Properties{"a": "1"})
	next := orig.WithProperty("b", "2")
	if _, ok := orig.Properties().Get("b"); ok {
		t.Fatal("WithProperty modified the original message")
	}
	if v, _ := next.Properties().Get("b"); v != "2" {
		t.Fatalf("copy lacks new property, got %q", v)
	}
	if v, _ := next.Properties().Get("a"); v != "1" {
		t.Fatalf("copy lost old property, got %q", v)
	}
	if got, want := next.EstimateSize(), 1+4; got != want {
		t.Fatalf("EstimateSize = %d, want %d", got, want)
	}
}

func TestValidateUserRejectsReservedKeys(t *testing.T) {
	if err := (Properties{"app.key": "v"}).ValidateUser(); err != nil {
		t.Fatalf("plain key refused: %v", err)
	}
	err := Properties{ReservedPropertyPrefix + "term": "3"}.ValidateUser()
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("reserved key: got %v, want ErrInvalidArgument", err)
	}
}

func TestIntoImmutableKeepsContent(t *testing.T) {
	m := NewMutableMessage([]byte{0, 1, 2}, Properties{"k": "v"}).IntoImmutable(nil, "ch")
	if m.Channel() != "ch" || string(m.Payload()) != "\x00\x01\x02" || m.Properties()["k"] != "v" {
		t.Fatalf("immutable message lost content: %v", m)
	}
}
