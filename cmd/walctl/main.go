package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// stopGrace is how long a command has to end after the first SIGINT or
// SIGTERM before walctl exits anyway.
const stopGrace = time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	finished := make(chan struct{})
	go func() {
		// The first signal asks for a clean stop; restoring the default
		// handling lets a second one end walctl at once.
		<-ctx.Done()
		stop()
		// Every command ends within stopGrace of a signal: one that is still
		// closing (a broker that does not answer) is cut short.
		select {
		case <-finished:
		case <-time.After(stopGrace):
			fmt.Fprintf(os.Stderr, "walctl: still stopping %s after the signal; exiting now\n", stopGrace)
			os.Exit(1)
		}
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	close(finished)
	stop()
	os.Exit(code)
}

// run executes one walctl invocation and returns its exit status. Tests call
// it in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	defer a.releaseAll()
	root := newRoot(a)
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
