package walimpls_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

func TestChannelValidate(t *testing.T) {
	good := walimpls.Channel{Name: "orders-1.v2_x", Term: 3}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid channel refused: %v", err)
	}
	bad := map[string]walimpls.Channel{
		"name":       {Name: ""},
		"term":       {Name: "a", Term: -1},
		"mode":       {Name: "a", AccessMode: 7},
		"name/slash": {Name: "a/b"},
		"name/dot":   {Name: ".hidden"},
		"name/long":  {Name: strings.Repeat("a", walimpls.MaxChannelNameLen+1)},
	}
	for want, c := range bad {
		err := c.Validate()
		if !errors.Is(err, walimpls.ErrInvalidArgument) {
			t.Errorf("%s: got %v, want ErrInvalidArgument", want, err)
			continue
		}
		field := strings.SplitN(want, "/", 2)[0]
		if !strings.Contains(err.Error(), field) {
			t.Errorf("%s: error %q does not name the field", want, err)
		}
	}
	var nilOpt *walimpls.OpenOption
	if err := nilOpt.Validate(); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Errorf("nil OpenOption: got %v", err)
	}
}

type testID uint64

func (i testID) WALName() string              { return "t" }
func (i testID) LT(o message.MessageID) bool  { return i < o.(testID) }
func (i testID) LTE(o message.MessageID) bool { return i <= o.(testID) }
func (i testID) EQ(o message.MessageID) bool  { return i == o.(testID) }
func (i testID) Marshal() string              { return fmt.Sprint(uint64(i)) }
func (i testID) String() string               { return i.Marshal() }

func TestDeliverPolicy(t *testing.T) {
	if err := walimpls.StartFrom(nil).Validate("t"); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Errorf("nil id: %v", err)
	}
	if err := walimpls.StartAfter(testID(1)).Validate("other"); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Errorf("foreign id: %v", err)
	}
	if (walimpls.DeliverPolicy{}).Kind() != walimpls.DeliverKindAll {
		t.Error("zero DeliverPolicy is not DeliverAll")
	}
	from, after := walimpls.StartFrom(testID(5)), walimpls.StartAfter(testID(5))
	if !from.Includes(testID(5)) || from.Includes(testID(4)) {
		t.Error("StartFrom must include its id and exclude earlier ones")
	}
	if after.Includes(testID(5)) || !after.Includes(testID(6)) {
		t.Error("StartAfter must exclude its id and include later ones")
	}
	if err := (walimpls.ReadOption{ReadAheadBufferSize: -1}).Validate("t"); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Errorf("negative buffer: %v", err)
	}
}

type retryable struct{}

func (retryable) Error() string   { return "transient" }
func (retryable) Retryable() bool { return true }

func TestIsRetryable(t *testing.T) {
	cases := map[error]bool{
		nil: false,
		fmt.Errorf("x: %w", walimpls.ErrUnavailable):                              true,
		fmt.Errorf("x: %w", retryable{}):                                          true,
		walimpls.ErrClosed:                                                        false,
		fmt.Errorf("%w: %w", walimpls.ErrOutcomeUnknown, walimpls.ErrUnavailable): false,
		walimpls.ErrFenced:                                                        false,
		errors.New("plain"):                                                       false,
	}
	for err, want := range cases {
		if got := walimpls.IsRetryable(err); got != want {
			t.Errorf("IsRetryable(%v) = %v, want %v", err, got, want)
		}
	}
	if !errors.Is(walimpls.ErrInvalidArgument, message.ErrInvalidArgument) {
		t.Error("walimpls.ErrInvalidArgument must be message.ErrInvalidArgument")
	}
}
