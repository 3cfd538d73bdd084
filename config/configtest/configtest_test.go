package configtest_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/config/configtest"
	_ "github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/walimpls"
)

// fatalTB records Fatalf instead of stopping the test.
type fatalTB struct {
	testing.TB
	failed string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	if f.failed == "" {
		f.failed = fmt.Sprintf(format, args...)
	}
}

func TestCheck(t *testing.T) {
	_, err := config.Load("", configtest.Env("MQWAL_MEMORY_MAX_MESSAGE_SIZE", "-1"), config.WithBackend("memory"))
	configtest.Check(t, err, "(memory.max_message_size): must be >= 0", nil)
	for _, tc := range []struct {
		err      error
		want     string
		sentinel error
	}{
		{errors.New("plain"), "plain", nil},
		{err, "something else", nil},
		{err, "memory.max_message_size", walimpls.ErrUnknownBackend},
		{&config.Error{Msg: "two\nlines", Err: walimpls.ErrInvalidArgument}, "two", nil},
	} {
		f := &fatalTB{TB: t}
		configtest.Check(f, tc.err, tc.want, tc.sentinel)
		if f.failed == "" {
			t.Errorf("Check(%v, %q, %v) passed", tc.err, tc.want, tc.sentinel)
		}
	}
}

func TestLoadAndEnv(t *testing.T) {
	c := configtest.Load(t, "backend: memory\n", "MQWAL_MEMORY_MAX_MESSAGE_SIZE", "5")
	if c.Backend != "memory" || c.Source("memory.max_message_size") != "MQWAL_MEMORY_MAX_MESSAGE_SIZE" {
		t.Fatalf("got %q, source %q", c.Backend, c.Source("memory.max_message_size"))
	}
	f := &fatalTB{TB: t}
	configtest.Load(f, "backend: memory\n", "MQWAL_MEMORY_MAX_MESAGE_SIZE", "5")
	if f.failed == "" {
		t.Fatal("Load passed with a warning (a misspelt variable)")
	}
}
