// Command walctl is mqwal from a shell: append to and scan channels, truncate
// them, benchmark a backend, run the conformance suite against a live broker,
// and start in-process Kafka or Pulsar brokers for development.
//
// The backend comes from --config FILE (YAML, see package config), the
// MQWAL_* environment, or --backend NAME; with none of them it is the
// embedded rmq store in ./mqwal-data, so on a fresh clone
//
//	go run ./cmd/walctl bench
//
// appends and reads back ten thousand messages with no server.
//
// Errors are one line on stderr and exit status 1; status 2 is a command-line
// mistake. Ctrl-C (or SIGTERM) ends scan --follow and dev-broker cleanly with
// status 0; a second one ends walctl at once.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal asks for a clean stop; restoring the default
		// handling lets a second one end a stop that hangs.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one walctl invocation and returns its exit status. Tests call
// it in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(&app{stdin: stdin, stdout: stdout, stderr: stderr})
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "walctl: "+oneLine(err.Error()))
		if isUsage(err) {
			return 2
		}
		return 1
	}
	return 0
}
