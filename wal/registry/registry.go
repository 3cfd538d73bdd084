package registry

import (
	"github.com/mqwal/mqwal/adaptor"
	implsregistry "github.com/mqwal/mqwal/walimpls/registry"
)

// Builder builds adapted openers of one backend: Name, With(opts...) and
// Build(opts...) (wal.Opener, error).
type Builder = adaptor.OpenerBuilder

// GetBuilder returns the adapted builder of the driver registered as name,
// or an error wrapping wal.ErrUnknownBackend that lists the registered
// names. opts apply to every opener the builder builds.
func GetBuilder(name string, opts ...adaptor.Option) (*Builder, error) {
	b, err := implsregistry.GetBuilder(name)
	if err != nil {
		return nil, err
	}
	return adaptor.NewOpenerBuilder(b, opts...), nil
}

// MustGetBuilder is GetBuilder for names known at compile time; it panics
// on an unknown name.
func MustGetBuilder(name string, opts ...adaptor.Option) *Builder {
	b, err := GetBuilder(name, opts...)
	if err != nil {
		panic(err)
	}
	return b
}

// Names returns the registered backend names, sorted.
func Names() []string { return implsregistry.Names() }
