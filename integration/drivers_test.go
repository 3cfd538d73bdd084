package integration

// The harness loads every backend through package config, which imports no
// driver: the suite links the built-in ones itself.
import (
	_ "github.com/mqwal/mqwal/impls/kafka"
	_ "github.com/mqwal/mqwal/impls/memory"
	_ "github.com/mqwal/mqwal/impls/pulsar"
	_ "github.com/mqwal/mqwal/impls/rmq"
)
