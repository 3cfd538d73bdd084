package memory

import (
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
	"github.com/mqwal/mqwal/walimpls/section"
)

func init() {
	registry.RegisterSection(Name, DefaultSection)
}

// Section is the memory backend's part of a configuration file (package
// config):
//
//	memory:
//	  max_message_size: 4194304
//
// Its data lives as long as the process.
type Section struct {
	// MaxMessageSize is the largest message accepted, in bytes; 0 keeps the
	// driver's default (DefaultMaxMessageSize, 4 MiB).
	MaxMessageSize int `yaml:"max_message_size"`
}

// DefaultSection is the section with nothing set.
func DefaultSection() *Section { return &Section{} }

// Check implements section.Section.
func (s *Section) Check(r section.Reporter, _ bool) {
	section.NonNegative(r, "max_message_size", s.MaxMessageSize, "")
}

// Builder implements section.Section: a builder over the process store.
func (s *Section) Builder(section.Reporter) (walimpls.OpenerBuilderImpls, error) {
	if s.MaxMessageSize > 0 {
		return NewBuilder(WithMaxMessageSize(s.MaxMessageSize)), nil
	}
	return NewBuilder(), nil
}

// Describe implements section.Describer.
func (s *Section) Describe() string { return "in this process only" }
