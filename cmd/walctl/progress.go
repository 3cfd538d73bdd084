package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// showStatus prints the line line returns until the returned stop is
// called: on a terminal rewritten in place four times a second (stop clears
// it), otherwise one line per second (logs, pipes, CI). stop returns once
// nothing more is written.
func showStatus(w io.Writer, line func() string) (stop func()) {
	tty := isTerminal(w)
	interval := time.Second
	if tty {
		interval = 250 * time.Millisecond
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		width := 0
		for {
			select {
			case <-t.C:
				l := line()
				if !tty {
					fmt.Fprintln(w, l)
					continue
				}
				fmt.Fprintf(w, "\r%-*s", width, l)
				width = max(width, len(l))
			case <-quit:
				if tty && width > 0 {
					fmt.Fprintf(w, "\r%s\r", strings.Repeat(" ", width))
				}
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			wg.Wait()
		})
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// meter turns a growing count into a rate over the last second or more,
// so the first figures are not a burst divided by a few microseconds.
// Not safe for concurrent use: the status goroutine owns it.
type meter struct {
	samples []sample
}

type sample struct {
	t time.Time
	n int64
}

func newMeter(start time.Time) *meter { return &meter{samples: []sample{{t: start}}} }

// rate records n at now and returns the rate since the newest sample at
// least a second old; ok is false until there is one.
func (m *meter) rate(now time.Time, n int64) (perSec float64, ok bool) {
	m.samples = append(m.samples, sample{t: now, n: n})
	base := -1
	for i, s := range m.samples {
		if now.Sub(s.t) >= time.Second {
			base = i
		}
	}
	if base < 0 {
		return 0, false
	}
	s := m.samples[base]
	m.samples = m.samples[base:]
	return float64(n-s.n) / now.Sub(s.t).Seconds(), true
}

// rateString is "1234 msg/s", or "" before a second has passed.
func (m *meter) rateString(now time.Time, n int64) string {
	r, ok := m.rate(now, n)
	if !ok {
		return ""
	}
	return fmt.Sprintf(", %.0f msg/s", r)
}
