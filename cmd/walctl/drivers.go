package main

// walctl is the reference for every built-in backend: it links them all
// (package config links none), so each registers its builder and its config
// section here.
import (
	_ "github.com/mqwal/mqwal/impls/kafka"
	_ "github.com/mqwal/mqwal/impls/memory"
	_ "github.com/mqwal/mqwal/impls/pulsar"
	_ "github.com/mqwal/mqwal/impls/rmq"
)
