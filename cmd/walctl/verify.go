package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

type verifyOpts struct {
	channels     int
	writers      int
	concurrency  int
	readers      int
	messages     int64
	duration     time.Duration
	rate         float64
	size         int
	faults       int
	faultKinds   []string
	control      string
	report       string
	term         int64
	keep         bool
	drainTimeout time.Duration
	appendTO     time.Duration
}

// faultReopen is verify's own fault: close the backend client (every WAL
// and scanner) and build a new one, as a process restart would. It works on
// every backend; for rmq it reopens the store from disk.
const faultReopen = "reopen"

func newVerifyCmd(a *app) *cobra.Command {
	var o verifyOpts
	cmd := &cobra.Command{
		Use:   "verify [--channels N] [--readers M] [--messages N | --duration D] [--rate R] [--faults N]",
		Short: "Run a long, concurrent, verified workload, optionally under faults",
		Long: `verify appends to --channels fresh channels (named verify-<random>-<n>) from
--writers writers (each owns channels n, n+W, n+2W, ... and appends to them
in turn from --concurrency goroutines, each append waiting for its own
acknowledgement), while --readers tailing readers per channel read every
channel from the start through their own read-only WALs. It runs until
--messages appends are acked or --duration has passed, at --rate messages
per second in total (0: as fast as it goes).

Everything is checked as it happens with the conformance harness's history
checker (walimplstest.Checker): an acked message lost, one read twice, out
of order or changed, a message nobody appended, one read although its
Append said it was not stored, IDs going backwards (after a restart or a
reconnect), readers of a channel that disagree. Appends whose outcome is
unknown (walimpls.ErrOutcomeUnknown) are tracked apart: each may be read
at most once. Once the writers stop, the readers read on to the newest
message each channel has, and every acked message must have reached every
reader.

--faults N disturbs the backend N times, evenly over the run, cycling
through --fault-kinds: against a walctl dev-broker, through its control
endpoint (found in the --config file dev-broker wrote, or --control URL):
restart, leader-move (kafka, needs dev-broker --brokers 2 or more to move
anything), drop-connections, lose-response; on any backend "reopen" (close
the client and open a new one, as a process restart would: for rmq the
store is reopened from disk). The default kinds are the dev broker's, or
reopen without one.

A status line goes to stderr (rate, p50/p99 append and end-to-end latency
of the last second, anomalies so far); at the end a summary goes to stdout
and a JSON report to --report ("-": stdout instead of the summary):
counts, latency histograms, faults, unknown outcomes, and every anomaly
with its channel, message tag, ID and what its Append returned. The exit
status is 1 on any anomaly or failed fault, 0 otherwise. Ctrl-C ends the run
early: writers stop at once, the report is written (messages not read yet
are counted as unverified, not lost), the channels are left as they are.
Otherwise they are truncated afterwards unless --keep.`,
		Example: `  walctl verify --channels 16 --messages 1000000
  walctl --config kafka.yaml verify --channels 16 --messages 1000000 --faults 5
  walctl --config pulsar.yaml verify --duration 1h --rate 2000 --readers 2 --faults 60 --report soak.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("duration") && !cmd.Flags().Changed("messages") {
				o.messages = 0
			}
			if !cmd.Flags().Changed("writers") {
				o.writers = o.channels
			}
			if o.control == "" {
				c, err := controlFromConfig(a.configPath)
				if err != nil {
					return err
				}
				o.control = c
			}
			return a.verify(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.channels, "channels", 4, "number of channels")
	f.IntVar(&o.writers, "writers", 0, "number of writers, at most --channels (default: one per channel)")
	f.IntVar(&o.concurrency, "concurrency", 1, "appending goroutines per writer")
	f.IntVar(&o.readers, "readers", 1, "tailing readers per channel (at most 64)")
	f.Int64Var(&o.messages, "messages", 100000, "acked messages to append in total")
	f.DurationVar(&o.duration, "duration", 0, "append for this long instead of a fixed --messages")
	f.Float64Var(&o.rate, "rate", 0, "target appends per second in total (0: as fast as possible)")
	f.IntVar(&o.size, "size", 128, "payload size in `BYTES`")
	f.IntVar(&o.faults, "faults", 0, "faults to inject, evenly spread over the run")
	f.StringSliceVar(&o.faultKinds, "fault-kinds", nil, "faults to cycle through: restart, leader-move, drop-connections, lose-response, reopen (default: the dev broker's, else reopen)")
	f.StringVar(&o.control, "control", "", "dev broker control `URL` (default: from the --config file dev-broker wrote)")
	f.StringVar(&o.report, "report", "walctl-verify.json", "write the JSON report to `FILE` (\"-\": stdout)")
	f.Int64Var(&o.term, "term", 1, "writer term to open the channels with")
	f.BoolVar(&o.keep, "keep", false, "do not truncate the channels afterwards")
	f.DurationVar(&o.drainTimeout, "drain-timeout", time.Minute, "after the writers stop, how long readers get to reach the end")
	f.DurationVar(&o.appendTO, "append-timeout", 30*time.Second, "give up on one append after this long (its outcome is then unknown)")
	cmd.MarkFlagsMutuallyExclusive("messages", "duration")
	return cmd
}

func (o verifyOpts) validate() error {
	switch {
	case o.channels < 1:
		return usagef("--channels %d: want >= 1", o.channels)
	case o.writers < 1 || o.writers > o.channels:
		return usagef("--writers %d: want 1..%d (--channels)", o.writers, o.channels)
	case o.concurrency < 1:
		return usagef("--concurrency %d: want >= 1", o.concurrency)
	case o.readers < 0 || o.readers > 64:
		return usagef("--readers %d: want 0..64", o.readers)
	case o.duration < 0:
		return usagef("--duration %s: want > 0", o.duration)
	case o.duration == 0 && o.messages < 1:
		return usagef("--messages %d: want >= 1", o.messages)
	case o.rate < 0:
		return usagef("--rate %g: want >= 0", o.rate)
	case o.size < 0:
		return usagef("--size %d: want >= 0", o.size)
	case o.faults < 0:
		return usagef("--faults %d: want >= 0", o.faults)
	case o.drainTimeout <= 0:
		return usagef("--drain-timeout %s: want > 0", o.drainTimeout)
	case o.appendTO <= 0:
		return usagef("--append-timeout %s: want > 0", o.appendTO)
	case o.report == "":
		return usagef("--report: want a file name or -")
	}
	for _, k := range o.faultKinds {
		if !slices.Contains([]string{"restart", "leader-move", "drop-connections", "lose-response", faultReopen}, k) {
			return usagef("--fault-kinds %q: want restart, leader-move, drop-connections, lose-response or reopen", k)
		}
	}
	return nil
}

// resolveFaults picks the fault kinds: those asked for, checked against what
// the dev broker offers, or its whole list, or reopen without one.
func (a *app) resolveFaults(ctx context.Context, o *verifyOpts) (*controlClient, error) {
	if o.faults == 0 && len(o.faultKinds) == 0 {
		return nil, nil
	}
	var cc *controlClient
	var offered []string
	if o.control != "" && (o.faults > 0 || len(o.faultKinds) > 0) {
		cc = newControlClient(o.control)
		l, err := cc.list(ctx)
		if err != nil {
			return nil, fmt.Errorf("verify --faults: %w", err)
		}
		offered = l.Faults
	}
	if len(o.faultKinds) == 0 {
		if cc == nil {
			o.faultKinds = []string{faultReopen}
		} else {
			o.faultKinds = offered
		}
		return cc, nil
	}
	for _, k := range o.faultKinds {
		switch {
		case k == faultReopen:
		case cc == nil:
			return nil, usagef("--fault-kinds %s needs a walctl dev-broker: its control endpoint comes from the --config file it wrote, or --control URL", k)
		case !slices.Contains(offered, k):
			return nil, usagef("--fault-kinds %s: the dev broker at %s offers only %s", k, o.control, strings.Join(offered, ", "))
		}
	}
	return cc, nil
}
