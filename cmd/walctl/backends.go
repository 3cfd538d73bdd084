package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/registry"
)

func newBackendsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "backends",
		Short: "List the registered backends and their capabilities",
		Long: `backends lists every backend compiled into walctl. The selected one (from
--backend, the config or MQWAL_BACKEND) is marked with * and built to read its
capabilities; so is memory, which needs nothing, and rmq when its data
directory exists. The others need their config: select one to probe it.
A selected backend that cannot be built makes the command fail.`,
		Example: `  walctl backends
  walctl --backend kafka backends      # with MQWAL_KAFKA_BROKERS set`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "BACKEND\tFENCING\tPHYSICAL TRUNCATE\tMAX MESSAGE\tNOTE")
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

// probe builds backend name from cfg (as if selected) and reads its
// capabilities, when that is cheap and has no side effects or name is the
// selected backend.
func probe(cfg *config.Config, name string) (*walimpls.Capabilities, string, error) {
	c := *cfg
	c.Backend = name
	switch {
	case name == cfg.Backend:
	case name == "memory":
	case name == "rmq":
		if _, err := os.Stat(cfg.RMQ.Path); err != nil {
			return nil, "not probed: no data directory " + cfg.RMQ.Path + " yet", nil
		}
	default:
		return nil, "not probed: select it with --backend " + name, nil
	}
	b, err := c.DriverBuilder()
	if err != nil {
		return nil, "", err
	}
	o, err := b.Build()
	if err != nil {
		return nil, "", err
	}
	defer o.Close()
	caps := o.Capabilities()
	return &caps, where(&c), nil
}

// where describes the selected backend's location for humans.
func where(c *config.Config) string {
	switch c.Backend {
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
	switch {
	case n <= 0:
		return "unlimited"
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
