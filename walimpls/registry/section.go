package registry

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"

	"github.com/mqwal/mqwal/walimpls/section"
)

// reservedNames are the top-level configuration keys that are not backend
// sections; a section may not take one of them.
var reservedNames = map[string]bool{"backend": true, "adaptor": true, "log": true}

var sections = struct {
	sync.RWMutex
	m map[string]func() section.Section
}{m: map[string]func() section.Section{}}

// RegisterSection makes newSection the constructor of backend name's part
// of the configuration (see package section): it returns the section at its
// defaults, a new one on each call, as a pointer to the driver's struct.
// Call it from the driver package's init, beside RegisterBuilder, with the
// same name:
//
//	registry.RegisterSection(Name, DefaultSection)
//
// A nil constructor, one that does not return a pointer to a struct, an
// empty or reserved name (backend, adaptor, log) or a name registered twice
// is a programming error and panics.
func RegisterSection[S section.Section](name string, newSection func() S) {
	if name == "" || newSection == nil {
		panic("registry: RegisterSection with an empty name or a nil constructor")
	}
	if reservedNames[name] {
		panic(fmt.Sprintf("registry: section name %q is a top-level config key", name))
	}
	if v := reflect.ValueOf(newSection()); v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("registry: section %q: the constructor must return a non-nil pointer to a struct, got %T", name, newSection()))
	}
	sections.Lock()
	defer sections.Unlock()
	if _, dup := sections.m[name]; dup {
		panic(fmt.Sprintf("registry: section %q registered twice", name))
	}
	sections.m[name] = func() section.Section { return newSection() }
}

// NewSection returns backend name's section at its defaults, and false if no
// section is registered under name.
func NewSection(name string) (section.Section, bool) {
	sections.RLock()
	f, ok := sections.m[name]
	sections.RUnlock()
	if !ok {
		return nil, false
	}
	return f(), true
}

// SectionNames returns the names that have a registered section, sorted.
func SectionNames() []string {
	sections.RLock()
	defer sections.RUnlock()
	return slices.Sorted(maps.Keys(sections.m))
}
