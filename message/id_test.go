package message

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

type fakeID string

func (f fakeID) WALName() string      { return "fake-test" }
func (f fakeID) LT(o MessageID) bool  { return f < o.(fakeID) }
func (f fakeID) LTE(o MessageID) bool { return f <= o.(fakeID) }
func (f fakeID) EQ(o MessageID) bool  { return f == o.(fakeID) }
func (f fakeID) Marshal() string      { return string(f) }
func (f fakeID) String() string       { return string(f) }

// registerFake registers "fake-test" once per process, so the test also
// passes under -count > 1 (a second registration panics by design).
var registerFake = sync.OnceFunc(func() {
	RegisterMessageIDUnmarshaler("fake-test", func(s string) (MessageID, error) {
		if s == "" {
			return nil, ErrInvalidArgument
		}
		return fakeID(s), nil
	})
})

func TestUnmarshalMessageIDRegistry(t *testing.T) {
	registerFake()
	id, err := UnmarshalMessageID("fake-test", "abc")
	if err != nil || !id.EQ(fakeID("abc")) {
		t.Fatalf("got %v, %v", id, err)
	}
	if _, err := UnmarshalMessageID("fake-test", ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad text: got %v", err)
	}
	_, err = UnmarshalMessageID("no-such-backend", "1")
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "fake-test") {
		t.Fatalf("unknown backend: got %v, want ErrInvalidArgument listing known names", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate registration did not panic")
		}
	}()
	RegisterMessageIDUnmarshaler("fake-test", func(string) (MessageID, error) { return nil, nil })
}
