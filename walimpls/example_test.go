package walimpls_test

import (
	"errors"
	"fmt"

	"github.com/mqwal/mqwal/walimpls"
)

// Bad input is refused before any I/O, with an error that names the field
// and wraps ErrInvalidArgument.
func ExampleOpenOption_Validate() {
	opt := &walimpls.OpenOption{Channel: walimpls.Channel{Name: "orders/eu", Term: 1}}
	err := opt.Validate()
	fmt.Println(errors.Is(err, walimpls.ErrInvalidArgument))

	opt.Channel.Name = "orders-eu"
	fmt.Println(opt.Validate())
	// Output:
	// true
	// <nil>
}

// Retrying is safe only for transient errors: an append whose outcome is
// unknown may already be stored, and a fenced writer must stop.
func ExampleIsRetryable() {
	for _, err := range []error{
		fmt.Errorf("kafka produce: %w", walimpls.ErrUnavailable),
		fmt.Errorf("kafka produce: %w", walimpls.ErrOutcomeUnknown),
		fmt.Errorf("append with term 1: %w", walimpls.ErrFenced),
	} {
		fmt.Println(walimpls.IsRetryable(err))
	}
	// Output:
	// true
	// false
	// false
}
