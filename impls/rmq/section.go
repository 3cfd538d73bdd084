package rmq

import (
	"time"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
	"github.com/mqwal/mqwal/walimpls/section"
)

func init() {
	registry.RegisterSection(Name, DefaultSection)
}

// Section is the rmq backend's part of a configuration file (package
// config):
//
//	rmq:
//	  path: ./mqwal-data
//	  sync: sync              # sync | group | none
type Section struct {
	// Path is the data directory (default DefaultPath, ./mqwal-data).
	Path string `yaml:"path"`
	// Sync is when an append returns: "sync" (after fsync, the default),
	// "group" (fsyncs shared over GroupCommitWindow) or "none" (before the
	// log reaches the disk: acknowledged appends are lost on a process
	// crash; tests and benchmarks only). See SyncMode.
	Sync string `yaml:"sync"`
	// GroupCommitWindow is how long "group" holds an fsync back; 0 keeps
	// the driver's default.
	GroupCommitWindow time.Duration `yaml:"group_commit_window"`
	// MaxMessageSize is the largest message accepted, in bytes; 0 keeps
	// the driver's default (64 MiB).
	MaxMessageSize int `yaml:"max_message_size"`
}

// DefaultSection is the section with nothing set: ./mqwal-data, fsynced
// appends.
func DefaultSection() *Section {
	return &Section{Path: DefaultPath, Sync: SyncAlways.String()}
}

// Check implements section.Section.
func (s *Section) Check(r section.Reporter, _ bool) {
	if s.Path == "" {
		r.Bad("path", "must not be empty")
	}
	if _, err := ParseSyncMode(s.Sync); err != nil {
		r.Bad("sync", "must be sync, group or none, got %q", s.Sync)
	}
	section.NonNegative(r, "group_commit_window", s.GroupCommitWindow, "")
	section.NonNegative(r, "max_message_size", s.MaxMessageSize, "")
}

// Builder implements section.Section.
func (s *Section) Builder(section.Reporter) (walimpls.OpenerBuilderImpls, error) {
	mode, err := ParseSyncMode(s.Sync)
	if err != nil {
		return nil, err
	}
	opts := []Option{WithPath(s.Path), WithSyncMode(mode)}
	if s.GroupCommitWindow > 0 {
		opts = append(opts, WithGroupCommitWindow(s.GroupCommitWindow))
	}
	if s.MaxMessageSize > 0 {
		opts = append(opts, WithMaxMessageSize(s.MaxMessageSize))
	}
	return NewBuilder(opts...), nil
}

// Describe implements section.Describer.
func (s *Section) Describe() string { return "data in " + s.Path + ", sync " + s.Sync }
