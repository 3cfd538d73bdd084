package registry

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mqwal/mqwal/walimpls"
)

type namedBuilder string

func (n namedBuilder) Name() string                         { return string(n) }
func (n namedBuilder) Build() (walimpls.OpenerImpls, error) { return nil, errors.New("test builder") }

func TestRegistry(t *testing.T) {
	RegisterBuilder(namedBuilder("reg-test-a"))
	if b, err := GetBuilder("reg-test-a"); err != nil || b.Name() != "reg-test-a" {
		t.Fatalf("GetBuilder = %v, %v", b, err)
	}
	_, err := GetBuilder("nope")
	if !errors.Is(err, walimpls.ErrUnknownBackend) || !strings.Contains(err.Error(), "reg-test-a") {
		t.Fatalf("unknown name: got %v, want ErrUnknownBackend listing registered names", err)
	}
	mustPanic(t, "duplicate", func() { RegisterBuilder(namedBuilder("reg-test-a")) })
	mustPanic(t, "empty", func() { RegisterBuilder(namedBuilder("")) })
	mustPanic(t, "unknown MustGetBuilder", func() { MustGetBuilder("nope") })
}

func TestRegistryConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			RegisterBuilder(namedBuilder(fmt.Sprintf("reg-conc-%d", i)))
			_ = Names()
			_, _ = GetBuilder("reg-conc-0")
		}()
	}
	wg.Wait()
	n := 0
	for _, name := range Names() {
		if strings.HasPrefix(name, "reg-conc-") {
			n++
		}
	}
	if n != 8 {
		t.Fatalf("registered %d of 8 concurrent builders", n)
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: did not panic", what)
		}
	}()
	f()
}
