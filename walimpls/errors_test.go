package walimpls_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

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
