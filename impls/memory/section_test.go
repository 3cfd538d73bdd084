package memory_test

import (
	"testing"

	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/config/configtest"
	"github.com/mqwal/mqwal/impls/memory"
)

// memory's section lives here, beside its driver, as any driver's would.
func TestSection(t *testing.T) {
	c := configtest.Load(t, "backend: memory\nmemory:\n  max_message_size: 2048\n")
	if s := c.Section("memory").(*memory.Section); s.MaxMessageSize != 2048 || s.Describe() != "in this process only" {
		t.Fatalf("memory %+v", s)
	}
	if got := maxSize(t, c); got != 2048 {
		t.Fatalf("MaxMessageSize = %d, want 2048", got)
	}
	if got := maxSize(t, configtest.Load(t, "backend: memory\n")); got != memory.DefaultMaxMessageSize {
		t.Fatalf("no max_message_size: %d, not the driver's default", got)
	}
}

// maxSize builds c's driver and returns the message size limit it reports.
func maxSize(t *testing.T, c *config.Config) int {
	t.Helper()
	b, err := c.DriverBuilder()
	if err != nil {
		t.Fatal(err)
	}
	o, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	return o.Capabilities().MaxMessageSize
}

func TestSectionErrors(t *testing.T) {
	configtest.Refused(t, []configtest.Case{
		{Name: "negative size", YAML: "memory:\n  max_message_size: -5\n", Backend: "memory", Want: "memory.max_message_size: must be >= 0, got -5"},
		{Name: "negative size env", Env: []string{"MQWAL_MEMORY_MAX_MESSAGE_SIZE", "-5"}, Backend: "memory", Want: "MQWAL_MEMORY_MAX_MESSAGE_SIZE (memory.max_message_size): must be >= 0, got -5"},
	})
}
