package registry

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/mqwal/mqwal/walimpls"
)

var builders = struct {
	sync.RWMutex
	m map[string]walimpls.OpenerBuilderImpls
}{m: map[string]walimpls.OpenerBuilderImpls{}}

// RegisterBuilder makes b available under b.Name(). Registering a nil
// builder, an empty name or a name twice is a programming error and panics.
func RegisterBuilder(b walimpls.OpenerBuilderImpls) {
	if b == nil || b.Name() == "" {
		panic("registry: RegisterBuilder with a nil builder or an empty name")
	}
	builders.Lock()
	defer builders.Unlock()
	if _, dup := builders.m[b.Name()]; dup {
		panic(fmt.Sprintf("registry: backend %q registered twice", b.Name()))
	}
	builders.m[b.Name()] = b
}

// GetBuilder returns the builder registered as name, or an error wrapping
// walimpls.ErrUnknownBackend that lists the registered names.
func GetBuilder(name string) (walimpls.OpenerBuilderImpls, error) {
	builders.RLock()
	b, ok := builders.m[name]
	builders.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (registered: %s)", walimpls.ErrUnknownBackend, name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// MustGetBuilder is GetBuilder for names known at compile time; it panics
// on an unknown name.
func MustGetBuilder(name string) walimpls.OpenerBuilderImpls {
	b, err := GetBuilder(name)
	if err != nil {
		panic(err)
	}
	return b
}

// Names returns the registered backend names, sorted.
func Names() []string {
	builders.RLock()
	defer builders.RUnlock()
	return slices.Sorted(maps.Keys(builders.m))
}
