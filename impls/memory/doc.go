// Package memory is the in-memory reference driver (backend name "memory").
// It keeps every rule of the walimpls contract and passes the full
// conformance harness, so it is the driver to read first when writing a new
// one, and the one to use in an application's own unit tests:
//
//	import _ "github.com/mqwal/mqwal/impls/memory"
//	opener, _ := registry.MustGetBuilder("memory").Build()
//
// Data lives in a Store. The registered builder uses one Store per process,
// so data survives closing and rebuilding the opener (as a restart would
// with a real backend) but not the process. NewBuilder(WithStore(s)) gives a
// test its own isolated Store.
//
// Capabilities: PhysicalTruncate (truncated messages are dropped),
// ExclusiveLog (only memory WALs write to a Store), a configurable
// MaxMessageSize (default 4 MiB), and no Fencing: a memory WAL
// does not stop a lower-term writer; the adaptor's read-side fence does.
// For that fence to be the same for every reader, a memory WAL lists the
// channel's claims (walimpls.ClaimReader): each term's first stored message
// records one, so a scanner that starts past a fence record still drops the
// zombie's messages after it.
package memory
