// Package registry is the one-line entry point to mqwal: it finds a driver
// registered by name in walimpls/registry and adapts it, so
//
//	opener, err := registry.MustGetBuilder("rmq").Build()
//
// gives a wal.Opener. Drivers register themselves when imported (import _
// "github.com/mqwal/mqwal/impls/rmq"). Options for the adaptor (logger,
// hooks for metrics, interceptors, cache, flow control) go to Build or to the builder's
// With. To adapt a driver builder constructed with its own options (as
// config does), use adaptor.NewOpenerBuilder directly.
package registry
