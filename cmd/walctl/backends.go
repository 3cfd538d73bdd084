package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls/registry"
)

func newBackendsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "backends",
		Short: "List the registered backends and their capabilities",
		Long: `backends lists every backend compiled into walctl with what it promises
through mqwal: fencing, physical truncation, and the largest message append
accepts, in bytes of payload plus property keys and values (the backend's
own limit less the 64 bytes mqwal reserves for its term and fence
properties). The selected one (from --backend, the config or
MQWAL_BACKEND) is marked with * and built to read them; so are memory and
rmq, which need no server. rmq is probed in a temporary directory that is
removed afterwards: backends writes nothing to the data directory, nor
creates it. The others need their config: select one to probe it. A
selected backend that cannot be built makes the command fail.`,
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
			return selectedErr
		},
	}
}

// probe builds backend name from cfg (as if selected) and reads the
// capabilities mqwal gives it, when that is cheap and has no side effects or
// name is the selected backend. rmq is built in a temporary directory.
func probe(cfg *config.Config, name string) (*wal.Capabilities, string, error) {
	c := *cfg
	c.Backend = name
	switch {
	case name == "rmq":
		dir, err := os.MkdirTemp("", "walctl-backends-")
		if err != nil {
			return nil, "", err
		}
		defer os.RemoveAll(dir)
		c.RMQ.Path = dir
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
	o := adaptor.NewOpener(name, impl)
	defer o.Close()
	caps := o.Capabilities()
	return &caps, where(cfg, name), nil
}

// where describes backend name's location in c for humans.
func where(c *config.Config, name string) string {
	switch name {
	case "rmq":
		return "data in " + c.RMQ.Path + ", sync " + c.RMQ.Sync
	case "memory":
		return "in this process only"
	case "kafka":
		return fmt.Sprintf("brokers %v", c.Kafka.Brokers)
	case "pulsar":
		return c.Pulsar.URL
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
