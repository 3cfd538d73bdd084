// Package registry maps backend names to walimpls drivers. Drivers register
// themselves from init (import _ "github.com/mqwal/mqwal/impls/rmq"), and a
// program picks one by the name in its config. Safe for concurrent use.
//
// A driver also registers its part of the configuration file
// (RegisterSection, see package walimpls/section), so package config can
// decode and check that part and build the driver without importing it.
//
// Applications normally use wal/registry, which returns the same backends
// already adapted to the wal interface.
package registry
