package main

import (
	"os"
	"testing"
)

// With no config, the quickstart runs on rmq in a temporary directory and
// leaves nothing in the working directory.
func TestQuickstartLeavesNothing(t *testing.T) {
	for _, k := range []string{"MQWAL_BACKEND", "MQWAL_RMQ_PATH"} {
		if os.Getenv(k) != "" {
			t.Skipf("%s is set: the quickstart would use it", k)
		}
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for _, backend := range []string{"", "memory"} {
		if err := run("", backend, "quickstart-test", 3); err != nil {
			t.Fatalf("backend %q: %v", backend, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the quickstart left %v in its working directory", entries)
	}
}
