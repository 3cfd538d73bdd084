package config

import (
	"time"

	"github.com/mqwal/mqwal/impls/rmq"
	"github.com/mqwal/mqwal/walimpls"
)

// RMQ is the section of the embedded Pebble backend (impls/rmq).
type RMQ struct {
	// Path is the data directory (default ./mqwal-data).
	Path string `yaml:"path"`
	// Sync is when an append returns: "sync" (after fsync, the default),
	// "group" (fsyncs shared over GroupCommitWindow) or "none" (unsafe:
	// tests and benchmarks).
	Sync string `yaml:"sync"`
	// GroupCommitWindow is how long "group" holds an fsync back; 0 keeps
	// the driver's default.
	GroupCommitWindow time.Duration `yaml:"group_commit_window"`
	// MaxMessageSize is the largest message accepted, in bytes; 0 keeps
	// the driver's default (64 MiB).
	MaxMessageSize int `yaml:"max_message_size"`
}

func defaultRMQ() RMQ {
	return RMQ{Path: rmq.DefaultPath, Sync: rmq.SyncAlways.String()}
}

func (r *RMQ) check(v *validator) {
	if r.Path == "" {
		v.bad("path", "must not be empty")
	}
	if _, err := rmq.ParseSyncMode(r.Sync); err != nil {
		v.bad("sync", "must be sync, group or none, got %q", r.Sync)
	}
	if r.GroupCommitWindow < 0 {
		v.bad("group_commit_window", "must be >= 0, got %s", r.GroupCommitWindow)
	}
	if r.MaxMessageSize < 0 {
		v.bad("max_message_size", "must be >= 0, got %d", r.MaxMessageSize)
	}
}

func (r *RMQ) require(*validator) {}

func (r *RMQ) driver() (walimpls.OpenerBuilderImpls, error) {
	mode, err := rmq.ParseSyncMode(r.Sync)
	if err != nil {
		return nil, err
	}
	opts := []rmq.Option{rmq.WithPath(r.Path), rmq.WithSyncMode(mode)}
	if r.GroupCommitWindow > 0 {
		opts = append(opts, rmq.WithGroupCommitWindow(r.GroupCommitWindow))
	}
	if r.MaxMessageSize > 0 {
		opts = append(opts, rmq.WithMaxMessageSize(r.MaxMessageSize))
	}
	return rmq.NewBuilder(opts...), nil
}
