package config

import (
	"log/slog"
	"os"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/walimpls/section"
)

// Adaptor is what the adaptor adds to every backend: the write-ahead cache,
// flow control, the close deadline and the message size limit. Each key is
// an adaptor option (AdaptorOptions).
type Adaptor struct {
	// WriteAheadCache is the opener's write-ahead cache budget in bytes,
	// shared by all its WALs (adaptor.WithWriteAheadCache); 0 turns the
	// cache off. Unset: adaptor.DefaultWriteAheadCache (64 MiB) on rmq.
	// Only backends no other client writes to (rmq, memory) have a cache
	// at all: on Kafka and Pulsar the key changes nothing.
	WriteAheadCache *int `yaml:"write_ahead_cache"`
	// MaxInFlightBytes bounds the bytes of appends in flight per WAL: a full
	// pipe blocks Append (adaptor.WithMaxInFlightBytes). 0 removes the bound.
	// Default adaptor.DefaultMaxInFlightBytes (64 MiB).
	MaxInFlightBytes int `yaml:"max_in_flight_bytes"`
	// CloseTimeout bounds how long closing a WAL waits for appends in
	// flight before cancelling them (adaptor.WithCloseTimeout). Default
	// adaptor.DefaultCloseTimeout (10s).
	CloseTimeout time.Duration `yaml:"close_timeout"`
	// MaxMessageSize limits application messages (payload plus properties)
	// to this many bytes (adaptor.WithMaxMessageSize); 0, the default, is
	// the backend's own limit less mqwal's reserve.
	MaxMessageSize int `yaml:"max_message_size"`
}

func defaultAdaptor() Adaptor {
	return Adaptor{MaxInFlightBytes: adaptor.DefaultMaxInFlightBytes, CloseTimeout: adaptor.DefaultCloseTimeout}
}

// Log makes a logger on stderr for the adaptor (adaptor.WithLogger), unless
// the program gave its own with WithLogger.
type Log struct {
	// Level is off (the default: the adaptor logs nothing), error, warn,
	// info or debug.
	Level string `yaml:"level"`
	// Format is text (slog's key=value lines, the default) or json.
	Format string `yaml:"format"`
}

func defaultLog() Log { return Log{Level: "off", Format: "text"} }

var levels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// checkTop reports invalid top-level settings.
func (c *Config) checkTop(v *validator) {
	a := c.Adaptor
	v.prefix = "adaptor"
	if a.WriteAheadCache != nil {
		section.NonNegative(v, "write_ahead_cache", *a.WriteAheadCache, "0 turns the cache off; leave it out for the default")
	}
	section.NonNegative(v, "max_in_flight_bytes", a.MaxInFlightBytes, "0 removes the bound")
	section.NonNegative(v, "close_timeout", a.CloseTimeout, "")
	section.NonNegative(v, "max_message_size", a.MaxMessageSize, "0 is the backend's limit")
	v.prefix = "log"
	if _, ok := levels[c.Log.Level]; !ok && c.Log.Level != "off" {
		v.Bad("level", "must be off, error, warn, info or debug, got %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		v.Bad("format", "must be text or json, got %q", c.Log.Format)
	}
}

// AdaptorOptions are the adaptor options the configuration asks for:
// cache, flow control, close timeout, size limit and logger. OpenerBuilder
// applies them; a program that adapts a driver itself passes them to
// adaptor.NewOpenerBuilder or adaptor.NewOpener.
func (c *Config) AdaptorOptions() []adaptor.Option {
	a := c.Adaptor
	opts := []adaptor.Option{
		adaptor.WithMaxInFlightBytes(int64(a.MaxInFlightBytes)),
		adaptor.WithCloseTimeout(a.CloseTimeout),
		adaptor.WithMaxMessageSize(a.MaxMessageSize),
	}
	if a.WriteAheadCache != nil {
		opts = append(opts, adaptor.WithWriteAheadCache(*a.WriteAheadCache))
	}
	if l := c.Logger(); l != nil {
		opts = append(opts, adaptor.WithLogger(l))
	}
	return opts
}

// Logger is the logger the adaptor gets: WithLogger's, else one on stderr
// at the log section's level and format, else nil (log.level off: nothing
// is logged).
func (c *Config) Logger() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	level, on := levels[c.Log.Level]
	if !on {
		return nil
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
