package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

type conformanceOpts struct {
	run     string
	timeout time.Duration
	quiet   time.Duration
	prefix  string
	scale   int
	verbose bool
	caseMax time.Duration
}

func newConformanceCmd(a *app) *cobra.Command {
	var o conformanceOpts
	cmd := &cobra.Command{
		Use:   "conformance [--backend NAME] [--run REGEXP]",
		Short: "Run the walimpls conformance suite against the configured backend",
		Long: `conformance runs every case of the conformance harness (walimplstest) against
the configured backend, directly on its driver: the same cases every driver's
own tests run, here against your broker or data directory. It prints one
row per case and exits with status 1 if any case failed.

Cases create channels named <prefix><case>-<n> (the prefix is random unless
--prefix is given) and leave them behind; on a shared cluster, point the
config at a scratch topic prefix, tenant or data directory.`,
		Example: `  walctl conformance                                  # rmq in ./mqwal-data
  walctl --config kafka.yaml conformance
  walctl --backend pulsar conformance --run 'Truncate|Fencing' -v`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.conformance(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.run, "run", "", "run only the cases whose name matches `REGEXP`")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "bound on each wait for a message within a case")
	f.DurationVar(&o.quiet, "quiet", 200*time.Millisecond, "how long a case waits to conclude no message is coming")
	f.StringVar(&o.prefix, "prefix", "", "channel name prefix (default: wt<random>-)")
	f.IntVar(&o.scale, "scale", 1, "multiply the message counts of the concurrent cases")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print every case's log, not only the failures'")
	f.DurationVar(&o.caseMax, "case-timeout", 5*time.Minute, "give up on the whole run when one case takes longer (a hung backend)")
	return cmd
}

func (a *app) conformance(ctx context.Context, o conformanceOpts) error {
	var filter *regexp.Regexp
	if o.run != "" {
		re, err := regexp.Compile(o.run)
		if err != nil {
			return usagef("--run %q: %v", o.run, err)
		}
		filter = re
	}
	if o.caseMax <= 0 {
		return usagef("--case-timeout %s: want > 0", o.caseMax)
	}
	if o.scale < 1 {
		return usagef("--scale %d: want >= 1", o.scale)
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	b, err := cfg.DriverBuilder()
	if err != nil {
		return err
	}
	h := walimplstest.Harness{
		NewOpener:     func() (walimpls.OpenerImpls, error) { return b.Build() },
		Timeout:       o.timeout,
		QuietPeriod:   o.quiet,
		ChannelPrefix: o.prefix,
		Scale:         o.scale,
	}
	// Fail fast, with the backend's own error, if it cannot even be built.
	probe, err := b.Build()
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Backend, err)
	}
	probe.Close()

	var cases []walimplstest.Case
	width := 0
	for _, c := range walimplstest.Cases(h) {
		if filter == nil || filter.MatchString(c.Name) {
			cases = append(cases, c)
			width = max(width, len(c.Name))
		}
	}
	if len(cases) == 0 {
		return usagef("--run %q matches no case", o.run)
	}
	fmt.Fprintf(a.stdout, "conformance: backend %s (%s)\n", cfg.Backend, where(cfg, cfg.Backend))
	var passed, skipped int
	var failed []string
	start := time.Now()
	for _, c := range cases {
		// A case cannot be stopped from outside; one that hangs ends the
		// run (and the process) instead of hanging it.
		done := make(chan walimplstest.Result, 1)
		go func() { done <- walimplstest.RunCase(c, h) }()
		var res walimplstest.Result
		select {
		case res = <-done:
		case <-time.After(o.caseMax):
			fmt.Fprintf(a.stdout, "FAIL  %-*s  did not finish within %s\n", width, c.Name, o.caseMax)
			return fmt.Errorf("conformance: case %s did not finish within %s on %s; giving up", c.Name, o.caseMax, cfg.Backend)
		case <-ctx.Done():
			return fmt.Errorf("conformance interrupted during case %s", c.Name)
		}
		status := "PASS"
		switch {
		case !res.Passed:
			status = "FAIL"
			failed = append(failed, c.Name)
		case res.Skipped:
			status = "SKIP"
			skipped++
		default:
			passed++
		}
		fmt.Fprintf(a.stdout, "%s  %-*s  %8s\n", status, width, c.Name, res.Duration.Round(time.Millisecond))
		if !res.Passed || res.Skipped || o.verbose {
			for _, line := range res.Log {
				for l := range strings.SplitSeq(line, "\n") {
					fmt.Fprintf(a.stdout, "      %s\n", l)
				}
			}
		}
	}
	total := passed + skipped + len(failed)
	fmt.Fprintf(a.stdout, "%d passed, %d failed, %d skipped in %s\n", passed, len(failed), skipped, time.Since(start).Round(time.Millisecond))
	if len(failed) > 0 {
		return fmt.Errorf("conformance: %d of %d cases failed on %s: %s", len(failed), total, cfg.Backend, strings.Join(failed, ", "))
	}
	return nil
}
