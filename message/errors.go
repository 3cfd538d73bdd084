package message

import "errors"

// ErrInvalidArgument is the sentinel for bad input to this package (an
// unparsable MessageID, a reserved property key, a corrupt record).
// walimpls.ErrInvalidArgument is the same value, so callers can test either.
var ErrInvalidArgument = errors.New("invalid argument")
