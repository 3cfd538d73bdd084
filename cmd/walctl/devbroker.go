package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
)

type devBrokerOpts struct {
	addr, data, configOut, control string
	brokers                        int
}

func newDevBrokerCmd(a *app) *cobra.Command {
	var o devBrokerOpts
	cmd := &cobra.Command{
		Use:   "dev-broker kafka|pulsar [--addr HOST:PORT] [--data DIR] [--config-out FILE]",
		Short: "Run an in-process Kafka or Pulsar broker for local development",
		Long: `dev-broker starts an in-process broker — kafka: franz-go's kfake through
impls/kafka/kafkatest; pulsar: mqwal's own impls/pulsar/pulsartest, with
deduplication on — and prints, on standard output, the config to reach it.
With --config-out FILE it also writes that config to FILE, atomically and
only once the broker accepts connections, and removes it when the broker
stops: wait for FILE to exist, then use it with --config. It runs until Ctrl-C or SIGTERM, then stops cleanly
(status 0).

They are test brokers, not production ones: loopback only, no
authentication. Where the data lives without --data: the kafka broker keeps
it in a temporary directory, removed when it stops; the pulsar broker keeps
it in memory. Either way it is gone when the broker stops (a fault restart
keeps it). With --data DIR it is kept in DIR and found again on the next
start.

A control endpoint on loopback (--control, default a free port; its URL is
a comment line of the config) lets walctl verify --faults restart the
broker, move partition leaders (kafka), drop every connection and lose the
response to a stored append while a verification runs.`,
		Example: `  rm -f kafka.yaml; walctl dev-broker kafka --config-out kafka.yaml &
  while [ ! -e kafka.yaml ]; do sleep 0.2; done; walctl --config kafka.yaml bench
  walctl dev-broker pulsar --addr 127.0.0.1:6650 --data ./pulsar-data`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usagef("dev-broker needs the broker to run: kafka or pulsar")
			case len(args) > 1:
				return usagef("dev-broker runs one broker, kafka or pulsar; got %q", args)
			case args[0] != "kafka" && args[0] != "pulsar":
				return usagef("dev-broker %q: want kafka or pulsar", args[0])
			}
			return nil
		},
		ValidArgs: []string{"kafka", "pulsar"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.brokers < 1 {
				return usagef("--brokers %d: want >= 1", o.brokers)
			}
			if o.brokers > 1 && args[0] != "kafka" {
				return usagef("--brokers: the pulsar dev broker is a single broker")
			}
			if o.configOut != "" {
				// A config left from an earlier run must not be mistaken
				// for this broker's before it is up.
				if err := os.Remove(o.configOut); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("--config-out %s: %w", o.configOut, err)
				}
			}
			ctx := cmd.Context()
			if args[0] == "kafka" {
				if o.addr == "" {
					o.addr = "127.0.0.1:9092"
				}
				return a.devKafka(ctx, o)
			}
			if o.addr == "" {
				o.addr = "127.0.0.1:6650"
			}
			return a.devPulsar(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "", "listen address `HOST:PORT` (default 127.0.0.1:9092 for kafka, 127.0.0.1:6650 for pulsar; port 0 picks a free one)")
	f.StringVar(&o.data, "data", "", "keep the broker's data in `DIR` (default: kafka a temporary directory removed on exit, pulsar memory)")
	f.StringVar(&o.configOut, "config-out", "", "also write the config to `FILE` (atomically, once the broker is up)")
	f.StringVar(&o.control, "control", "127.0.0.1:0", "control endpoint for walctl verify --faults, `HOST:PORT` on loopback")
	f.IntVar(&o.brokers, "brokers", 1, "kafka: number of brokers (ports follow --addr's; leader moves need 2 or more)")
	return cmd
}

func (a *app) devKafka(ctx context.Context, o devBrokerOpts) error {
	host, port, err := splitAddr("--addr", o.addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("--addr %q: the kafka dev broker listens on loopback only (127.0.0.1)", o.addr)
	}
	opts := []kafkatest.Option{kafkatest.WithBrokers(o.brokers)}
	if port != 0 {
		ports := make([]int, o.brokers)
		for i := range ports {
			ports[i] = port + i
		}
		opts = append(opts, kafkatest.WithPorts(ports...))
	}
	if o.data != "" {
		opts = append(opts, kafkatest.WithDataDir(o.data))
	}
	c, err := kafkatest.Start(ctx, opts...)
	if err != nil {
		return fmt.Errorf("dev-broker kafka on %s: %w", o.addr, err)
	}
	defer closeWithin(c.Close, 600*time.Millisecond) // end within a second of the signal
	faults := []brokerFault{
		{"restart", func(ctx context.Context) (string, error) { return "", c.Restart(ctx) }},
		{"leader-move", func(ctx context.Context) (string, error) {
			n, err := c.MoveAllLeaders(ctx)
			return fmt.Sprintf("%d partition leaders moved", n), err
		}},
		{"drop-connections", func(context.Context) (string, error) {
			return fmt.Sprintf("%d connections closed", c.DropConnections()), nil
		}},
		{"lose-response", func(context.Context) (string, error) {
			return "the next produce is stored and its response lost", c.DropNextResponse(kmsg.Produce, 1)
		}},
	}
	control, stop, err := serveControl(ctx, o.control, "kafka", faults)
	if err != nil {
		return err
	}
	defer stop()
	brokers := strings.Join(c.Addrs(), ",")
	where := "data in " + c.DataDir()
	if o.data == "" {
		where = "data in a temporary directory until it stops"
	}
	cfg := fmt.Sprintf("# kafka dev broker (kfake, %d broker(s)) on %s, %s; Ctrl-C stops it.\n", o.brokers, brokers, where) +
		fmt.Sprintf("# Use this file with --config, or: MQWAL_BACKEND=kafka MQWAL_KAFKA_BROKERS=%s\n", brokers) +
		controlLinePrefix + control + "\n" +
		fmt.Sprintf("backend: kafka\nkafka:\n  brokers: [%s]\n", brokers)
	return a.serveDev(ctx, "kafka", cfg, o.configOut)
}

func (a *app) devPulsar(ctx context.Context, o devBrokerOpts) error {
	if _, _, err := splitAddr("--addr", o.addr); err != nil {
		return err
	}
	opts := []pulsartest.Option{pulsartest.WithAddr(o.addr), pulsartest.WithDeduplication(true)}
	if o.data != "" {
		opts = append(opts, pulsartest.WithDataDir(o.data))
	}
	b, err := pulsartest.Start(opts...)
	if err != nil {
		return fmt.Errorf("dev-broker pulsar on %s: %w", o.addr, err)
	}
	defer closeWithin(func() { _ = b.Close() }, 600*time.Millisecond)
	faults := []brokerFault{
		{"restart", func(context.Context) (string, error) { return "", b.Restart() }},
		{"drop-connections", func(context.Context) (string, error) {
			b.DropConnections()
			return "", nil
		}},
		{"lose-response", func(context.Context) (string, error) {
			b.DropNextReceipt("")
			return "the next message is stored and its receipt lost", nil
		}},
	}
	control, stop, err := serveControl(ctx, o.control, "pulsar", faults)
	if err != nil {
		return err
	}
	defer stop()
	where := "data in memory until it stops"
	if o.data != "" {
		where = "data in " + o.data
	}
	cfg := fmt.Sprintf("# pulsar dev broker (pulsartest) on %s, %s; Ctrl-C stops it.\n", b.URL(), where) +
		fmt.Sprintf("# Use this file with --config, or: MQWAL_BACKEND=pulsar MQWAL_PULSAR_URL=%s MQWAL_PULSAR_ADMIN_URL=%s\n", b.URL(), b.AdminURL()) +
		controlLinePrefix + control + "\n" +
		fmt.Sprintf("backend: pulsar\npulsar:\n  url: %s\n  admin_url: %s\n", b.URL(), b.AdminURL())
	return a.serveDev(ctx, "pulsar", cfg, o.configOut)
}

// serveDev prints (and writes) the broker's config, then runs until ctx ends.
func (a *app) serveDev(ctx context.Context, kind, cfg, configOut string) error {
	if configOut != "" {
		if err := writeFileAtomic(configOut, []byte(cfg)); err != nil {
			return fmt.Errorf("--config-out: %w", err)
		}
		defer os.Remove(configOut) // its addresses die with the broker
	}
	fmt.Fprint(a.stdout, cfg)
	<-ctx.Done()
	fmt.Fprintf(a.stderr, "walctl: stopping %s dev broker\n", kind)
	return nil
}

func splitAddr(flag, addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, usagef("%s %q: want HOST:PORT", flag, addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, usagef("%s %q: port must be 0..65535", flag, addr)
	}
	return host, port, nil
}
