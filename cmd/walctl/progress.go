package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress reports how far a run is: a bar on a terminal, a plain line per
// second otherwise (logs, pipes, CI).
type progress struct {
	w        io.Writer
	label    string
	count    int64         // target messages, 0 in duration mode
	duration time.Duration // target time in duration mode
	tty      bool
}

func newProgress(w io.Writer, label string, count int64, d time.Duration) *progress {
	return &progress{w: w, label: label, count: count, duration: d, tty: isTerminal(w)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// run reports done until the returned stop is called; stop prints the final
// state and returns once nothing more is written.
func (p *progress) run(done *atomic.Int64, start time.Time) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	interval := time.Second
	var bar *progressbar.ProgressBar
	if p.tty {
		interval = 100 * time.Millisecond
		max := p.count
		if max == 0 {
			max = p.duration.Milliseconds() // the bar tracks time instead
		}
		bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.label),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msg"),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetPredictTime(true),
		)
	}
	update := func() {
		n := done.Load()
		el := time.Since(start)
		if bar != nil {
			if p.count > 0 {
				_ = bar.Set64(n)
			} else {
				_ = bar.Set64(min(el.Milliseconds(), p.duration.Milliseconds()))
				bar.Describe(fmt.Sprintf("%s %d msgs", p.label, n))
			}
			return
		}
		rate := float64(n) / el.Seconds()
		if p.count > 0 {
			fmt.Fprintf(p.w, "%s: %d/%d messages, %.0f msg/s\n", p.label, n, p.count, rate)
		} else {
			fmt.Fprintf(p.w, "%s: %d messages in %s of %s, %.0f msg/s\n", p.label, n, el.Round(time.Second), p.duration, rate)
		}
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				update()
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		wg.Wait()
		if bar != nil {
			_ = bar.Finish()
			_ = bar.Exit()
		}
	}
}
