package rmq_test

import (
	"testing"
	"time"

	"github.com/mqwal/mqwal/config/configtest"
	"github.com/mqwal/mqwal/impls/rmq"
)

func TestSectionValues(t *testing.T) {
	c := configtest.Load(t, "rmq:\n  path: /from/file\n  sync: group\n  group_commit_window: 250us\n  max_message_size: 1024\n",
		"MQWAL_RMQ_PATH", "/from/env")
	s := c.Section("rmq").(*rmq.Section)
	if *s != (rmq.Section{Path: "/from/env", Sync: "group", GroupCommitWindow: 250 * time.Microsecond, MaxMessageSize: 1024}) {
		t.Fatalf("rmq %+v", s)
	}
	b, err := c.DriverBuilder()
	if err != nil {
		t.Fatal(err)
	}
	if rb, ok := b.(*rmq.Builder); !ok || rb.Path() != "/from/env" {
		t.Fatalf("builder %T %v", b, b)
	}
	if d := s.Describe(); d != "data in /from/env, sync group" {
		t.Fatalf("Describe = %q", d)
	}
}

func TestSectionErrors(t *testing.T) {
	configtest.Refused(t, []configtest.Case{
		{Name: "unknown key", YAML: "rmq:\n  pth: /x\n", Want: "rmq.pth: unknown key (known here: path, sync, group_commit_window, max_message_size)"},
		{Name: "empty path", YAML: "rmq:\n  path: ''\n", Want: "rmq.path: must not be empty"},
		{Name: "bad sync", YAML: "rmq:\n  sync: always\n", Want: `rmq.sync: must be sync, group or none, got "always"`},
		{Name: "bad sync env", Env: []string{"MQWAL_RMQ_SYNC", "fast"}, Want: `MQWAL_RMQ_SYNC (rmq.sync): must be sync, group or none, got "fast"`},
		{Name: "negative window", YAML: "rmq:\n  group_commit_window: -1s\n", Want: "rmq.group_commit_window: must be >= 0, got -1s"},
		{Name: "negative size", YAML: "rmq:\n  max_message_size: -1\n", Want: "rmq.max_message_size: must be >= 0, got -1"},
	})
}
