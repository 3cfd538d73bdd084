package walimpls_test

import (
	"errors"
	"strings"
	"testing"

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
