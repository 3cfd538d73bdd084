package registry

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mqwal/mqwal/walimpls"
)

type namedBuilder string

func (n namedBuilder) Name() string                         { return string(n) }
func (n namedBuilder) Build() (walimpls.OpenerImpls, error) { return nil, errors.New("test builder") }

// runs makes each run's names new: a name registers once per process, and
// -count > 1 runs the tests again in the same process.
var runs atomic.Int64

func TestRegistry(t *testing.T) {
	name := fmt.Sprintf("reg-test-%d", runs.Add(1))
	RegisterBuilder(namedBuilder(name))
	if b, err := GetBuilder(name); err != nil || b.Name() != name {
		t.Fatalf("GetBuilder = %v, %v", b, err)
	}
	_, err := GetBuilder("nope")
	if !errors.Is(err, walimpls.ErrUnknownBackend) || !strings.Contains(err.Error(), name) {
		t.Fatalf("unknown name: got %v, want ErrUnknownBackend listing registered names", err)
	}
	mustPanic(t, "duplicate", func() { RegisterBuilder(namedBuilder(name)) })
	mustPanic(t, "empty", func() { RegisterBuilder(namedBuilder("")) })
	mustPanic(t, "unknown MustGetBuilder", func() { MustGetBuilder("nope") })
}

func TestRegistryConcurrent(t *testing.T) {
	prefix := fmt.Sprintf("reg-conc-%d-", runs.Add(1))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			RegisterBuilder(namedBuilder(fmt.Sprintf("%s%d", prefix, i)))
			_ = Names()
			_, _ = GetBuilder(prefix + "0")
		}()
	}
	wg.Wait()
	n := 0
	for _, name := range Names() {
		if strings.HasPrefix(name, prefix) {
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
