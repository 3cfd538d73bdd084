package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// app is what every command shares: the global flags and the streams.
type app struct {
	configPath string
	backend    string

	stdin          io.Reader
	stdout, stderr io.Writer

	warnMemory sync.Once

	// releasing are the backends the command opened, closed by run after
	// it printed the command's outcome (releaseLater).
	releasing []func()

	// loaded holds the configuration, loaded once per run: its warnings are
	// printed once however many times a command opens the backend.
	loaded struct {
		sync.Once
		cfg *config.Config
		err error
	}
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "walctl",
		Short: "Use an mqwal write-ahead log from the shell",
		Long: `walctl appends to, scans, truncates and describes (stat) mqwal channels,
benchmarks a backend, verifies it under a long concurrent load and faults,
runs the conformance suite against it, and starts development brokers.

The backend comes from --config (YAML), the MQWAL_* environment variables,
or --backend; with none of them it is rmq, the embedded store, in ./mqwal-data.`,
		Example: `  walctl bench                                  # embedded rmq in ./mqwal-data
  walctl append -c orders hello world
  walctl scan -c orders
  walctl --config kafka.yaml conformance`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "YAML config `FILE` (default: none; MQWAL_* variables still apply)")
	root.PersistentFlags().StringVar(&a.backend, "backend", "", "backend `NAME`, overriding the config (rmq, memory, kafka, pulsar, ...)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newBackendsCmd(a),
		newAppendCmd(a),
		newScanCmd(a),
		newTruncateCmd(a),
		newStatCmd(a),
		newBenchCmd(a),
		newVerifyCmd(a),
		newConformanceCmd(a),
		newDevBrokerCmd(a),
	)
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}

// usageError marks a command-line mistake (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func isUsage(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	// cobra's own argument and command errors.
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "accepts ") ||
		strings.HasPrefix(msg, "requires ") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "if any flags in the group") || strings.HasPrefix(msg, "required flag") || strings.HasPrefix(msg, "invalid argument")
}

// oneLine folds a multi-line error (a joined error, a yaml message) into one.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// config loads the configuration the global flags select, once; its
// warnings (a misspelt MQWAL_* variable, an empty file) go to stderr.
func (a *app) config() (*config.Config, error) {
	a.loaded.Do(func() {
		a.loaded.cfg, a.loaded.err = config.Load(a.configPath, config.WithBackend(a.backend), config.WithWarnings(func(w *config.Error) {
			fmt.Fprintln(a.stderr, "walctl: warning: "+oneLine(w.Error()))
		}))
	})
	if a.loaded.err != nil {
		return nil, a.loaded.err
	}
	return a.loaded.cfg, nil
}

// backend is the configured backend, opened: the adaptor's wal.Opener, as
// applications use it (the newest ID, channel statistics and listing come
// through its optional interfaces: wal.LatestID, wal.Stat,
// wal.ListChannels), over the driver wrapped so that read-only scanners can
// end at an ID (ends). Closing it closes both.
type backend struct {
	cfg    *config.Config
	ends   *endOpener
	opener wal.Opener
}

func (b *backend) Close() { b.opener.Close() }

// releaseGrace bounds closing a backend after a signal: a command ends
// within a second of Ctrl-C (a close that takes longer, on a loaded disk or
// a broker that does not answer, goes on until the process exits; acked
// appends are durable already).
const releaseGrace = 400 * time.Millisecond

// release closes b, at once unless ctx ended (a signal); then for at most
// releaseGrace.
func (b *backend) release(ctx context.Context) {
	if ctx.Err() == nil {
		b.Close()
		return
	}
	closeWithin(b.Close, releaseGrace)
}

// releaseLater has run close b after it printed the command's outcome, so
// an interrupted command says what it did at once, however long closing
// the backend then takes (bounded by release).
func (a *app) releaseLater(ctx context.Context, b *backend) {
	a.releasing = append(a.releasing, func() { b.release(ctx) })
}

// releaseAll closes what releaseLater was given, newest first.
func (a *app) releaseAll() {
	for i := len(a.releasing) - 1; i >= 0; i-- {
		a.releasing[i]()
	}
	a.releasing = nil
}

// closeWithin runs fn and returns when it is done or after d.
func closeWithin(fn func(), d time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// open builds the configured backend; opts apply to its wal.Opener.
func (a *app) open(opts ...adaptor.Option) (*backend, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	db, err := cfg.DriverBuilder()
	if err != nil {
		return nil, err
	}
	impl, err := db.Build()
	if err != nil {
		if cfg.Backend == "rmq" && errors.Is(err, wal.ErrUnavailable) && strings.Contains(err.Error(), "LOCK") {
			// Another process (a scan --follow) holds the directory; rmq is
			// embedded, one process at a time.
			return nil, fmt.Errorf("%s: %w (rmq allows one process per data directory: stop the other one, or use a broker backend)", cfg.Backend, err)
		}
		return nil, fmt.Errorf("%s: %w", cfg.Backend, err)
	}
	if cfg.Backend == "memory" {
		a.warnMemory.Do(func() {
			fmt.Fprintln(a.stderr, "walctl: warning: backend memory keeps everything in this process; nothing outlives it")
		})
	}
	ends := newEndOpener(impl)
	opts = append(cfg.AdaptorOptions(), opts...)
	return &backend{cfg: cfg, ends: ends, opener: adaptor.NewOpener(db.Name(), ends, opts...)}, nil
}

// openChannel opens ch on a new backend; close the backend when done.
func (a *app) openChannel(ctx context.Context, ch wal.Channel) (*backend, wal.WAL, error) {
	b, err := a.open()
	if err != nil {
		return nil, nil, err
	}
	w, err := b.opener.Open(ctx, &wal.OpenOption{Channel: ch})
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return b, w, nil
}

// parseID reads a message ID in the form walctl prints (MessageID.Marshal).
func parseID(backend, flag, s string) (message.MessageID, error) {
	id, err := message.UnmarshalMessageID(backend, s)
	if err != nil {
		return nil, usagef("%s %q is not a %s message id: %v", flag, s, backend, err)
	}
	return id, nil
}

// channelFlag adds the -c flag every channel command has.
func channelFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "channel", "c", "", "channel `NAME` (letters, digits, '.', '_', '-')")
	_ = cmd.MarkFlagRequired("channel")
}
