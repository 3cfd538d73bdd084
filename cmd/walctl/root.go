package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

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
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "walctl",
		Short: "Use an mqwal write-ahead log from the shell",
		Long: `walctl appends to, scans and truncates mqwal channels, benchmarks a backend,
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
		newBenchCmd(a),
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

// config loads the configuration the global flags select.
func (a *app) config() (*config.Config, error) {
	return config.Load(a.configPath, config.WithBackend(a.backend))
}

// open builds the configured backend's opener.
func (a *app) open() (*config.Config, wal.Opener, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, nil, err
	}
	b, err := cfg.OpenerBuilder()
	if err != nil {
		return nil, nil, err
	}
	o, err := b.Build()
	if err != nil {
		if cfg.Backend == "rmq" && errors.Is(err, wal.ErrUnavailable) {
			// The usual cause: another walctl (a scan --follow) holds the
			// directory; rmq is embedded, one process at a time.
			return nil, nil, fmt.Errorf("%s: %w (rmq allows one process per data directory: stop the other one, or use a broker backend)", cfg.Backend, err)
		}
		return nil, nil, fmt.Errorf("%s: %w", cfg.Backend, err)
	}
	return cfg, o, nil
}

// openChannel opens ch on a new opener; close the opener when done.
func (a *app) openChannel(ctx context.Context, ch wal.Channel) (*config.Config, wal.Opener, wal.WAL, error) {
	cfg, o, err := a.open()
	if err != nil {
		return nil, nil, nil, err
	}
	w, err := o.Open(ctx, &wal.OpenOption{Channel: ch})
	if err != nil {
		o.Close()
		return nil, nil, nil, fmt.Errorf("open channel %q: %w", ch.Name, err)
	}
	return cfg, o, w, nil
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
