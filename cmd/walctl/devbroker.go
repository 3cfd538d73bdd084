package main

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
)

func newDevBrokerCmd(a *app) *cobra.Command {
	var addr, data string
	cmd := &cobra.Command{
		Use:   "dev-broker kafka|pulsar [--addr HOST:PORT] [--data DIR]",
		Short: "Run an in-process Kafka or Pulsar broker for local development",
		Long: `dev-broker starts an in-process broker — kafka: franz-go's kfake through
impls/kafka/kafkatest; pulsar: mqwal's own impls/pulsar/pulsartest, with
deduplication on — and prints, on standard output, the config to reach it.
Save that as a file for --config, or use the MQWAL_* variables it names. It
runs until Ctrl-C or SIGTERM, then stops cleanly (status 0).

They are test brokers, not production ones: a single node, loopback only,
no authentication. Without --data the data lives in a temporary directory and
is gone when the broker stops; with --data it is kept there and found again
on the next start.`,
		Example: `  walctl dev-broker kafka > kafka.yaml &
  walctl --config kafka.yaml bench
  walctl dev-broker pulsar --addr 127.0.0.1:6650 --data ./pulsar-data`,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"kafka", "pulsar"},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			switch args[0] {
			case "kafka":
				if addr == "" {
					addr = "127.0.0.1:9092"
				}
				return a.devKafka(ctx, addr, data)
			default:
				if addr == "" {
					addr = "127.0.0.1:6650"
				}
				return a.devPulsar(ctx, addr, data)
			}
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen address `HOST:PORT` (default 127.0.0.1:9092 for kafka, 127.0.0.1:6650 for pulsar; port 0 picks a free one)")
	cmd.Flags().StringVar(&data, "data", "", "keep the broker's data in `DIR` (default: a temporary directory, removed on exit)")
	return cmd
}

func (a *app) devKafka(ctx context.Context, addr, data string) error {
	host, port, err := splitAddr(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("--addr %q: the kafka dev broker listens on loopback only (127.0.0.1)", addr)
	}
	var opts []kafkatest.Option
	if port != 0 {
		opts = append(opts, kafkatest.WithPorts(port))
	}
	if data != "" {
		opts = append(opts, kafkatest.WithDataDir(data))
	}
	c, err := kafkatest.Start(ctx, opts...)
	if err != nil {
		return fmt.Errorf("dev-broker kafka on %s: %w", addr, err)
	}
	defer c.Close()
	brokers := c.Addrs()
	fmt.Fprintf(a.stdout, "# kafka dev broker (kfake) on %s, data in %s; Ctrl-C stops it.\n", brokers[0], c.DataDir())
	fmt.Fprintf(a.stdout, "# Use this file with --config, or: MQWAL_BACKEND=kafka MQWAL_KAFKA_BROKERS=%s\n", brokers[0])
	fmt.Fprintf(a.stdout, "backend: kafka\nkafka:\n  brokers: [%s]\n", brokers[0])
	<-ctx.Done()
	fmt.Fprintln(a.stderr, "walctl: stopping kafka dev broker")
	return nil
}

func (a *app) devPulsar(ctx context.Context, addr, data string) error {
	if _, _, err := splitAddr(addr); err != nil {
		return err
	}
	opts := []pulsartest.Option{pulsartest.WithAddr(addr), pulsartest.WithDeduplication(true)}
	if data != "" {
		opts = append(opts, pulsartest.WithDataDir(data))
	}
	b, err := pulsartest.Start(opts...)
	if err != nil {
		return fmt.Errorf("dev-broker pulsar on %s: %w", addr, err)
	}
	defer b.Close()
	where := "in memory"
	if data != "" {
		where = "in " + data
	}
	fmt.Fprintf(a.stdout, "# pulsar dev broker (pulsartest) on %s, data %s; Ctrl-C stops it.\n", b.URL(), where)
	fmt.Fprintf(a.stdout, "# Use this file with --config, or: MQWAL_BACKEND=pulsar MQWAL_PULSAR_URL=%s\n", b.URL())
	fmt.Fprintf(a.stdout, "backend: pulsar\npulsar:\n  url: %s\n", b.URL())
	<-ctx.Done()
	fmt.Fprintln(a.stderr, "walctl: stopping pulsar dev broker")
	return nil
}

func splitAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, usagef("--addr %q: want HOST:PORT", addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, usagef("--addr %q: port must be 0..65535", addr)
	}
	return host, port, nil
}
