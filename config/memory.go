package config

import (
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/walimpls"
)

// Memory is the section of the in-memory reference backend (impls/memory).
// Its data lives as long as the process.
type Memory struct {
	// MaxMessageSize is the largest message accepted, in bytes; 0 keeps the
	// driver's default (4 MiB).
	MaxMessageSize int `yaml:"max_message_size"`
}

func (m *Memory) check(v *validator) {
	if m.MaxMessageSize < 0 {
		v.bad("max_message_size", "must be >= 0, got %d", m.MaxMessageSize)
	}
}

func (m *Memory) require(*validator) {}

func (m *Memory) driver() (walimpls.OpenerBuilderImpls, error) {
	if m.MaxMessageSize > 0 {
		return memory.NewBuilder(memory.WithMaxMessageSize(m.MaxMessageSize)), nil
	}
	return memory.NewBuilder(), nil
}
