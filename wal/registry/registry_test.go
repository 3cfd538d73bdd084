package registry_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	_ "github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/wal/registry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGetBuilderUnknownListsNames(t *testing.T) {
	_, err := registry.GetBuilder("no-such-backend")
	if !errors.Is(err, wal.ErrUnknownBackend) || !strings.Contains(err.Error(), "memory") {
		t.Fatalf("got %v, want ErrUnknownBackend listing memory", err)
	}
	if !slices.Contains(registry.Names(), "memory") {
		t.Fatalf("Names() = %v, want memory in it", registry.Names())
	}
	defer func() {
		if recover() == nil {
			t.Fatal("MustGetBuilder of an unknown name did not panic")
		}
	}()
	registry.MustGetBuilder("no-such-backend")
}

func TestBuilderName(t *testing.T) {
	if got := registry.MustGetBuilder("memory").Name(); got != "memory" {
		t.Fatalf("Name() = %q", got)
	}
}
