package walimplstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// historyRun is one run of the history checker: concurrent appenders and
// tailing scanners on several channels, a fault injected twice while they
// run, and an end marker per channel appended once the appenders and the
// faults are done.
type historyRun struct {
	e      *env
	ctx    context.Context
	hist   *History
	fault  *Fault
	acked  atomic.Int64
	marks  []int64         // ack counts at which the fault is injected
	marked []chan struct{} // marked[i] is closed when acked reaches marks[i]
	// faultsDone is closed once every injection returned, so the end
	// marker comes after them: the tailing scanners are still reading
	// while each fault strikes.
	faultsDone chan struct{}
	// appendersDone is closed when every appender returned: a mark that
	// was not reached by then never will be.
	appendersDone chan struct{}
}

// runHistory runs concurrent appenders and tailing scanners on several
// channels, optionally injecting fault twice while they run, then checks the
// History: the scanners that followed each channel from the start (two per
// channel, through the appenders' WAL, so a driver that shares reads
// between the scanners of a channel is tested with them apart and
// together), and one of a fresh opener that reads the whole log after the
// run, must each hold every acked message exactly once, no message whose
// Append reported it not stored, and agree with each other.
func runHistory(r R, h Harness, fault *Fault) {
	e := newEnv(r, h)
	const channels, appenders, tailsPerChannel = 2, 3, 2
	perAppender := 40 * h.Scale
	total := int64(channels * appenders * perAppender)
	// Generous: under faults the backend needs time to come back.
	ctx, cancel := context.WithDeadline(e.ctx, time.Now().Add(6*h.Timeout))
	defer cancel()
	run := &historyRun{e: e, ctx: ctx, hist: NewHistory(), fault: fault, faultsDone: make(chan struct{}), appendersDone: make(chan struct{})}
	if fault != nil {
		run.marks = []int64{total / 3, 2 * total / 3}
		run.marked = []chan struct{}{make(chan struct{}), make(chan struct{})}
	}

	var wg, allAppenders sync.WaitGroup
	var failures atomic.Int64
	var tails []string
	for c := range channels {
		ch := e.channel(fmt.Sprint(c))
		w := e.open(ch)
		endDone := make(chan struct{})
		for n := range tailsPerChannel {
			tail := fmt.Sprint(ch, "/tail", n)
			tails = append(tails, tail)
			wg.Add(1)
			go func() {
				defer wg.Done()
				run.follow(w, tail, false, endDone)
			}()
		}
		var appendWG sync.WaitGroup
		for a := range appenders {
			appendWG.Add(1)
			allAppenders.Add(1)
			go func() {
				defer allAppenders.Done()
				defer appendWG.Done()
				failures.Add(int64(run.appendLoop(w, fmt.Sprint("a", a), perAppender, fault != nil)))
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(endDone)
			appendWG.Wait()
			select {
			case <-run.faultsDone:
			case <-ctx.Done():
			}
			// The end marker: once a reader sees it, it has seen everything acked before.
			run.appendLoop(w, "end", 1, true)
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		allAppenders.Wait()
		close(run.appendersDone)
	}()
	go func() {
		defer wg.Done()
		defer close(run.faultsDone)
		run.injectTwice()
	}()
	wg.Wait()

	// The whole log, read after the run through another client: a message
	// the driver stored although it reported the append failed shows here
	// even if it landed after the end marker.
	fresh := e.newOpener()
	finals := make([]string, channels)
	ended := make(chan struct{})
	close(ended)
	for c := range channels {
		ch := e.channel(fmt.Sprint(c))
		finals[c] = ch + "/final"
		run.follow(e.openOn(fresh, ch, 0, walimpls.ReadOnly), finals[c], true, ended)
	}
	problems := run.hist.Check(append(tails, finals...)...)
	reportProblems(r, problems)
	r.Logf("history: %d acked, %d failed attempts, %d problems", run.hist.Acked(), failures.Load(), len(problems))
}

// reportProblems fails r with the first 20 problems.
func reportProblems(r R, problems []Problem) {
	r.Helper()
	for i, p := range problems {
		if i == 20 {
			r.Errorf("... and %d more problems", len(problems)-20)
			break
		}
		r.Errorf("%v", p)
	}
}

// appendLoop appends until n of appender's messages are acked. Without
// faults any failure fails the case; under faults, transient failures are
// retried with a new message (the old one may or may not be stored).
func (run *historyRun) appendLoop(w walimpls.WALImpls, appender string, n int, faulty bool) (failed int) {
	e := run.e
	for seq, acked := 0, 0; acked < n; seq++ {
		if run.ctx.Err() != nil {
			e.r.Errorf("appender %s of %s: acked only %d of %d before the deadline", appender, w.Channel().Name, acked, n)
			return failed
		}
		a, msg := run.hist.NewAttempt(w.Channel().Name, appender, seq)
		actx, cancel := context.WithTimeout(run.ctx, e.h.Timeout)
		id, err := w.Append(actx, msg)
		cancel()
		run.hist.Done(a, id, err)
		switch {
		case err == nil:
			acked++
			run.countAck()
		case !faulty:
			e.r.Errorf("appender %s of %s: Append: %v", appender, w.Channel().Name, err)
			return failed + 1
		case errors.Is(err, walimpls.ErrClosed) || errors.Is(err, walimpls.ErrFenced) || errors.Is(err, walimpls.ErrInvalidArgument):
			e.r.Errorf("appender %s of %s: Append failed for good under a transient fault: %v", appender, w.Channel().Name, err)
			return failed + 1
		default:
			failed++
			backoff(run.ctx, failed)
		}
	}
	return failed
}

// countAck counts an ack and wakes the injector at its marks.
func (run *historyRun) countAck() {
	n := run.acked.Add(1)
	for i, m := range run.marks {
		if n == m {
			close(run.marked[i])
		}
	}
}

// injectTwice applies the fault when a third and when two thirds of the
// messages are acked.
func (run *historyRun) injectTwice() {
	e := run.e
	for i := range run.marks {
		select {
		case <-run.marked[i]:
		case <-run.appendersDone:
			if run.acked.Load() >= run.marks[i] {
				break // reached on the appenders' last acks
			}
			e.r.Errorf("fault %s: the appenders stopped at %d acked, before the fault's mark at %d", run.fault.Name, run.acked.Load(), run.marks[i])
			return
		case <-run.ctx.Done():
			return
		}
		if err := run.fault.Inject(run.ctx); err != nil {
			e.r.Errorf("fault %s: %v", run.fault.Name, err)
			return
		}
		e.r.Logf("fault %s injected at %d acked", run.fault.Name, run.acked.Load())
	}
}

// follow reads channel w from the start until it has read the acked end
// marker, and with toQuiet on until nothing more comes within the quiet
// period. endDone is closed once the channel's end marker is acked (or
// given up): an end marker read before then may be a failed attempt, which
// does not end the read. Under faults a scanner may end with a retryable
// error; follow then resumes after the last delivered message, as the
// contract allows.
func (run *historyRun) follow(w walimpls.ROWALImpls, reader string, toQuiet bool, endDone <-chan struct{}) {
	e, ctx, faulty := run.e, run.ctx, run.fault != nil
	f := &follower{run: run, reader: reader, ch: w.Channel().Name, toQuiet: toQuiet, endDone: endDone}
	policy := walimpls.DeliverAll()
	for attempt := 1; ; attempt++ {
		s, err := w.Read(ctx, walimpls.ReadOption{Name: reader, DeliverPolicy: policy})
		if err != nil {
			if !faulty || !walimpls.IsRetryable(err) || ctx.Err() != nil {
				e.r.Errorf("reader %s: Read(%v): %v", reader, policy, err)
				return
			}
			backoff(ctx, attempt)
			continue
		}
		last, err := f.drain(s)
		_ = s.Close()
		if err == nil {
			return
		}
		if last != nil {
			policy = walimpls.StartAfter(last)
		}
		if ctx.Err() != nil {
			e.r.Errorf("reader %s: did not reach the end marker (or quiet after it) before the deadline", reader)
			return
		}
		if !faulty || !walimpls.IsRetryable(err) {
			e.r.Errorf("reader %s: scanner ended: %v", reader, err)
			return
		}
		e.r.Logf("reader %s: resuming after %v: %v", reader, last, err)
	}
}

// follower is one reader's progress across the scanners follow opens.
type follower struct {
	run     *historyRun
	reader  string
	ch      string
	toQuiet bool
	endDone <-chan struct{}
	sawEnd  bool
}

// drain records s's messages until the acked end marker (with toQuiet,
// until nothing comes within the quiet period after it), the scanner's end,
// or ctx. err is nil only when drain got where it was going.
func (f *follower) drain(s walimpls.ScannerImpls) (last message.MessageID, err error) {
	quietPeriod := f.run.e.h.QuietPeriod
	quiet := time.NewTimer(quietPeriod)
	defer quiet.Stop()
	var quietC <-chan time.Time
	if f.sawEnd {
		quietC = quiet.C
	}
	endPrefix := f.ch + "/end/"
	for {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				if err = s.Error(); err == nil {
					err = errors.New("scanner ended with a nil Error before its Close")
				}
				return last, err
			}
			f.run.hist.Delivered(f.reader, f.ch, m)
			last = m.MessageID()
			if tag, _ := m.Properties().Get(TagProperty); !f.sawEnd && strings.HasPrefix(tag, endPrefix) && f.isAckedEnd(tag) {
				f.sawEnd = true
				if !f.toQuiet {
					return last, nil
				}
			}
			if f.sawEnd {
				quiet.Reset(quietPeriod)
				quietC = quiet.C
			}
		case <-quietC:
			return last, nil
		case <-f.run.ctx.Done():
			return last, f.run.ctx.Err()
		}
	}
}

// isAckedEnd waits until the channel's end appender is done, then reports
// whether the end attempt tagged tag was acked.
func (f *follower) isAckedEnd(tag string) bool {
	select {
	case <-f.endDone:
	case <-f.run.ctx.Done():
		return false
	}
	a := f.run.hist.attempt(tag)
	return a != nil && a.acked()
}

// backoff waits a little longer after each failure, up to 200ms.
func backoff(ctx context.Context, failures int) {
	d := min(time.Duration(failures)*10*time.Millisecond, 200*time.Millisecond)
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
