package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/impls/rmq"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls/registry"
	"github.com/mqwal/mqwal/walimpls/section"
)

func newBackendsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "backends",
		Short: "List the registered backends, their capabilities and their config keys",
		Long: `backends lists every backend compiled into walctl with what it promises
through mqwal: fencing, physical truncation, and the largest message append
accepts, in bytes of payload plus property keys and values (the backend's
own limit less the 64 bytes mqwal reserves for its term and fence
properties, or adaptor.max_message_size when that is lower). The selected
one (from --backend, the config or MQWAL_BACKEND) is marked with * and
built to read them; so are memory and rmq, which need no server. rmq is
probed in a temporary directory that is removed afterwards: backends writes
nothing to the data directory, nor creates it. The others need their
config: select one to probe it. A selected backend that cannot be built
makes the command fail.

Then it lists every configuration key, as the drivers registered them:
its environment variable (which overrides the file) and its default.`,
		Example: `  walctl backends
  walctl --backend kafka backends      # with MQWAL_KAFKA_BROKERS set`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "BACKEND\tFENCING\tPHYSICAL TRUNCATE\tMAX MESSAGE (payload+properties)\tNOTE")
			var selectedErr error
			for _, name := range registry.Names() {
				mark := " "
				if name == cfg.Backend {
					mark = "*"
				}
				caps, note, err := probe(cfg, name)
				if err != nil {
					note = oneLine(err.Error())
					if name == cfg.Backend {
						selectedErr = err
					}
				}
				if caps == nil {
					fmt.Fprintf(tw, "%s %s\t-\t-\t-\t%s\n", mark, name, note)
					continue
				}
				fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\n", mark, name, yesNo(caps.Fencing), yesNo(caps.PhysicalTruncate), sizeString(caps.MaxMessageSize), note)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if err := printKeys(a.stdout); err != nil {
				return err
			}
			return selectedErr
		},
	}
}

// printKeys lists every configuration key with its variable and default.
func printKeys(w io.Writer) error {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONFIG KEY\tENVIRONMENT\tDEFAULT")
	for _, k := range config.Reference() {
		def := k.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Key, k.Env, def)
	}
	return tw.Flush()
}

// probe builds backend name from cfg (as if selected) and reads the
// capabilities mqwal gives it, when that is cheap and has no side effects or
// name is the selected backend. rmq is built in a temporary directory.
func probe(cfg *config.Config, name string) (*wal.Capabilities, string, error) {
	c := cfg.Clone()
	c.Backend = name
	switch {
	case name == rmq.Name:
		dir, err := os.MkdirTemp("", "walctl-backends-")
		if err != nil {
			return nil, "", err
		}
		defer os.RemoveAll(dir)
		c.Section(rmq.Name).(*rmq.Section).Path = dir
	case name == cfg.Backend, name == "memory":
	default:
		return nil, "not probed: select it with --backend " + name, nil
	}
	b, err := c.DriverBuilder()
	if err != nil {
		return nil, "", err
	}
	impl, err := b.Build()
	if err != nil {
		return nil, "", err
	}
	o := adaptor.NewOpener(name, impl, c.AdaptorOptions()...)
	defer o.Close()
	caps := o.Capabilities()
	// The adaptor's own limit, when lower, is the one appends meet.
	if m := c.Adaptor.MaxMessageSize; m > 0 && (caps.MaxMessageSize <= 0 || m < caps.MaxMessageSize) {
		caps.MaxMessageSize = m
	}
	return &caps, where(cfg, name), nil
}

// where describes backend name's location in c for humans, as its section
// describes it.
func where(c *config.Config, name string) string {
	if d, ok := c.Section(name).(section.Describer); ok {
		return d.Describe()
	}
	return ""
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func sizeString(n int) string {
	if n <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d B", n)
}
