package walimplstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// runHistory runs concurrent appenders and tailing scanners on several
// channels, optionally injecting fault twice while they run, then checks the
// History: a scanner that followed each channel from the start and a fresh
// one after the end must both hold every acked message exactly once.
func runHistory(r R, h Harness, fault *Fault) {
	e := newEnv(r, h)
	const channels, appenders = 2, 3
	perAppender := 40 * h.Scale
	hist := NewHistory()
	// Generous: under faults the backend needs time to come back.
	deadline := time.Now().Add(6 * h.Timeout)
	ctx, cancel := context.WithDeadline(e.ctx, deadline)
	defer cancel()

	var wg sync.WaitGroup
	var failures atomic.Int64
	tails := make([]string, channels)
	for c := range channels {
		ch := e.channel(fmt.Sprint(c))
		w := e.open(ch)
		tails[c] = ch + "/tail"
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.follow(ctx, w, hist, tails[c], fault != nil)
		}()
		var appendWG sync.WaitGroup
		for a := range appenders {
			appendWG.Add(1)
			go func() {
				defer appendWG.Done()
				failures.Add(int64(e.appendLoop(ctx, w, hist, fmt.Sprint("a", a), perAppender, fault != nil)))
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			appendWG.Wait()
			// The end marker: once a reader sees it, it has seen everything acked before.
			e.appendLoop(ctx, w, hist, "end", 1, true)
		}()
	}
	if fault != nil {
		total := channels * appenders * perAppender
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.injectTwice(ctx, hist, total, fault)
		}()
	}
	wg.Wait()

	finals := make([]string, channels)
	for c := range channels {
		ch := e.channel(fmt.Sprint(c))
		finals[c] = ch + "/final"
		e.follow(ctx, e.openOn(e.opener, ch, 0, walimpls.ReadOnly), hist, finals[c], fault != nil)
	}
	problems := hist.Check(append(tails, finals...)...)
	for i, p := range problems {
		if i == 20 {
			r.Errorf("... and %d more problems", len(problems)-20)
			break
		}
		r.Errorf("%v", p)
	}
	r.Logf("history: %d acked, %d failed attempts, %d problems", hist.Acked(), failures.Load(), len(problems))
}

// appendLoop appends until n of appender's messages are acked. Without
// faults any failure fails the case; under faults, transient failures are
// retried with a new message (the old one may or may not be stored).
func (e *env) appendLoop(ctx context.Context, w walimpls.WALImpls, hist *History, appender string, n int, faulty bool) (failed int) {
	for seq, acked := 0, 0; acked < n; seq++ {
		if ctx.Err() != nil {
			e.r.Errorf("appender %s of %s: acked only %d of %d before the deadline", appender, w.Channel().Name, acked, n)
			return failed
		}
		a, msg := hist.NewAttempt(w.Channel().Name, appender, seq)
		actx, cancel := context.WithTimeout(ctx, e.h.Timeout)
		id, err := w.Append(actx, msg)
		cancel()
		hist.Done(a, id, err)
		switch {
		case err == nil:
			acked++
		case !faulty:
			e.r.Errorf("appender %s of %s: Append: %v", appender, w.Channel().Name, err)
			return failed + 1
		case errors.Is(err, walimpls.ErrClosed) || errors.Is(err, walimpls.ErrFenced) || errors.Is(err, walimpls.ErrInvalidArgument):
			e.r.Errorf("appender %s of %s: Append failed for good under a transient fault: %v", appender, w.Channel().Name, err)
			return failed + 1
		default:
			failed++
			backoff(ctx, failed)
		}
	}
	return failed
}

// follow reads channel w from the start until it sees the end marker. Under
// faults a scanner may end with a retryable error; follow then resumes
// after the last delivered message, as the contract allows.
func (e *env) follow(ctx context.Context, w walimpls.ROWALImpls, hist *History, reader string, faulty bool) {
	ch := w.Channel().Name
	endTag := ch + "/end/0"
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
		end, last, err := e.drain(ctx, s, hist, reader, ch, endTag)
		_ = s.Close()
		if end {
			return
		}
		if last != nil {
			policy = walimpls.StartAfter(last)
		}
		if ctx.Err() != nil {
			e.r.Errorf("reader %s: did not reach the end marker before the deadline", reader)
			return
		}
		if !faulty || !walimpls.IsRetryable(err) {
			e.r.Errorf("reader %s: scanner ended: %v", reader, err)
			return
		}
		e.r.Logf("reader %s: resuming after %v: %v", reader, last, err)
	}
}

// drain records s's messages until the end marker, the scanner's end, or ctx.
func (e *env) drain(ctx context.Context, s walimpls.ScannerImpls, hist *History, reader, ch, endTag string) (end bool, last message.MessageID, err error) {
	for {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				return false, last, s.Error()
			}
			hist.Delivered(reader, ch, m)
			last = m.MessageID()
			if tag, _ := m.Properties().Get(TagProperty); tag == endTag {
				return true, last, nil
			}
		case <-ctx.Done():
			return false, last, ctx.Err()
		}
	}
}

// injectTwice applies fault when a third and when two thirds of the
// messages are acked.
func (e *env) injectTwice(ctx context.Context, hist *History, total int, fault *Fault) {
	for _, at := range []int{total / 3, 2 * total / 3} {
		for hist.Acked() < at {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		if err := fault.Inject(ctx); err != nil {
			e.r.Errorf("fault %s: %v", fault.Name, err)
			return
		}
		e.r.Logf("fault %s injected at %d acked", fault.Name, hist.Acked())
	}
}

// backoff waits a little longer after each failure, up to 200ms.
func backoff(ctx context.Context, failures int) {
	d := min(time.Duration(failures)*10*time.Millisecond, 200*time.Millisecond)
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
