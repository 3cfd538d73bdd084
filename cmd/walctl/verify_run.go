package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// verifier is one verify run.
type verifier struct {
	a     *app
	o     verifyOpts
	cc    *controlClient
	names []string
	chk   *walimplstest.Checker
	sess  *session
	start time.Time

	appendCtx context.Context // ends on interrupt
	readCtx   context.Context // ends on interrupt or when the drain times out
	endingC   chan struct{}   // closed when the writers are done and the ends are set

	reserved, acked, slots atomic.Int64
	appendHist, e2eHist    histogram
	sent                   sentTimes
	anomalies              anomalyLog
	marks                  []int64
	marked                 []chan struct{}
	appendersDone          chan struct{}

	mu       sync.Mutex
	maxAcked map[string]message.MessageID
	faults   []faultRecord
}

// verifyOpenerOpts: verify's readers read through read-only WALs, which
// the write-ahead cache never feeds; the writers' caches (16 MiB of message
// bytes each by default, several times that in memory for small messages)
// would only hold memory.
var verifyOpenerOpts = []adaptor.Option{adaptor.WithWriteAheadCache(0)}

// faultRecord is one fault as the report lists it.
type faultRecord struct {
	At      string `json:"at"`
	AtAcked int64  `json:"at_acked"`
	Kind    string `json:"kind"`
	Detail  string `json:"detail,omitempty"`
	Took    string `json:"took,omitempty"`
	Error   string `json:"error,omitempty"`
}

func (a *app) verify(ctx context.Context, o verifyOpts) error {
	if err := o.validate(); err != nil {
		return err
	}
	cc, err := a.resolveFaults(ctx, &o)
	if err != nil {
		return err
	}
	if cc != nil {
		defer cc.hc.CloseIdleConnections()
	}
	b, err := a.open(verifyOpenerOpts...)
	if err != nil {
		return err
	}
	var tag [4]byte
	_, _ = crand.Read(tag[:])
	v := &verifier{
		a: a, o: o, cc: cc, chk: walimplstest.NewChecker(walimplstest.WithPayloadSize(o.size)),
		sess: newSession(a, b, o.term), endingC: make(chan struct{}), appendersDone: make(chan struct{}),
		maxAcked: map[string]message.MessageID{}, sent: sentTimes{m: map[string]*sentEntry{}},
	}
	for i := range o.channels {
		v.names = append(v.names, fmt.Sprintf("verify-%s-%d", hex.EncodeToString(tag[:]), i))
	}
	readCtx, stopReaders := context.WithCancel(ctx)
	defer stopReaders()
	v.appendCtx, v.readCtx = ctx, readCtx
	rep := v.run(stopReaders)
	interrupted := ctx.Err() != nil
	if interrupted {
		v.sess.close(300 * time.Millisecond) // exit within a second of the signal
	} else {
		if !o.keep {
			v.truncate(ctx)
		}
		v.sess.close(10 * time.Second)
	}
	return a.finishVerify(v, rep)
}

// run appends, reads and injects faults until the writers are done, then
// lets the readers reach the end, and returns the report.
func (v *verifier) run(stopReaders context.CancelFunc) *verifyReport {
	o := v.o
	if o.messages > 0 && o.faults > 0 {
		for i := 1; i <= o.faults; i++ {
			v.marks = append(v.marks, o.messages*int64(i)/int64(o.faults+1))
			v.marked = append(v.marked, make(chan struct{}))
		}
	}
	g, _ := v.sess.current()
	fmt.Fprintf(v.summaryOut(), "verify: backend %s (%s); %s\n", g.b.cfg.Backend, where(g.b.cfg, g.b.cfg.Backend), o.describe())

	// Readers first: the checker wants them before the first append.
	var readers sync.WaitGroup
	readerDone := make([]atomic.Bool, len(v.names)*o.readers)
	for c, ch := range v.names {
		for i := range o.readers {
			r, err := v.chk.AddReader(fmt.Sprintf("r%d", i), ch, true)
			if err != nil {
				panic(err) // added first, at most 64
			}
			readers.Add(1)
			go func() {
				defer readers.Done()
				if v.readLoop(ch, r) {
					readerDone[c*o.readers+i].Store(true)
				}
			}()
		}
	}

	v.start = time.Now()
	stopStatus := v.showStatus()
	var writers, faults sync.WaitGroup
	for w := range o.writers {
		var mine []string
		for c := w; c < len(v.names); c += o.writers {
			mine = append(mine, v.names[c])
		}
		for k := range o.concurrency {
			writers.Add(1)
			go func() {
				defer writers.Done()
				v.writeLoop(fmt.Sprintf("w%d.%d", w, k), mine)
			}()
		}
	}
	faults.Add(1)
	go func() {
		defer faults.Done()
		v.injectFaults()
	}()
	writers.Wait()
	appendTime := time.Since(v.start)
	close(v.appendersDone)
	faults.Wait()

	// The end: each channel's newest ID now. Readers stop there.
	if v.appendCtx.Err() == nil {
		g, _ := v.sess.current()
		for _, ch := range v.names {
			if end, ok, err := latestID(v.appendCtx, g.b.opener, ch); err != nil {
				v.anomaly(walimplstest.Problem{Kind: "end-unknown", Channel: ch, Detail: err.Error()})
			} else if ok && end != nil {
				g.b.ends.setEnd(ch, end)
			}
		}
	}
	close(v.endingC)
	drained := make(chan struct{})
	go func() {
		readers.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(v.o.drainTimeout):
		stopReaders()
		<-drained
		for c, ch := range v.names {
			for i := range o.readers {
				if !readerDone[c*o.readers+i].Load() {
					v.anomaly(walimplstest.Problem{Kind: "reader-stuck", Channel: ch, Reader: fmt.Sprintf("r%d", i),
						Detail: fmt.Sprintf("did not reach the channel's end within %s of the writers stopping", v.o.drainTimeout)})
				}
			}
		}
	case <-v.appendCtx.Done():
		<-drained
	}
	stopStatus()
	if v.appendCtx.Err() == nil {
		v.report(v.chk.Finish())
	}
	return v.buildReport(appendTime)
}

// summaryOut is where the human summary goes: stdout, unless the report
// goes there.
func (v *verifier) summaryOut() io.Writer {
	if v.o.report == "-" {
		return v.a.stderr
	}
	return v.a.stdout
}

// writeLoop is one writing goroutine: it appends to its channels in turn
// until the run's count or time is reached.
func (v *verifier) writeLoop(appender string, chans []string) {
	ctx, o := v.appendCtx, v.o
	seq := map[string]int{}
	failures := 0
	for i := 0; ; i++ {
		if ctx.Err() != nil {
			return
		}
		if o.messages > 0 {
			if v.reserved.Add(1) > o.messages {
				v.reserved.Add(-1)
				return
			}
		} else if time.Since(v.start) >= o.duration {
			return
		}
		v.pace(ctx)
		ch := chans[i%len(chans)]
		g, changed := v.sess.current()
		w, err := g.writer(ctx, ch, o.term)
		if err == nil {
			err = v.appendOne(ctx, w, ch, appender, seq)
			if err == nil {
				failures = 0
				continue
			}
		}
		v.reserved.Add(-1)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, wal.ErrClosed):
			// A reopen closed the client: go on with the next one.
			select {
			case <-changed:
			case <-ctx.Done():
			case <-time.After(time.Minute):
				v.anomaly(walimplstest.Problem{Kind: "append-failed", Channel: ch, Reader: "appender " + appender, Detail: err.Error()})
				return
			}
		case errors.Is(err, wal.ErrFenced), errors.Is(err, wal.ErrMessageTooLarge), errors.Is(err, wal.ErrInvalidArgument), errors.Is(err, wal.ErrReadOnly):
			v.anomaly(walimplstest.Problem{Kind: "append-failed", Channel: ch, Reader: "appender " + appender, Detail: err.Error()})
			return
		default:
			failures++
			backoff(ctx, failures)
		}
	}
}

// appendOne appends the appender's next message to ch and records it.
func (v *verifier) appendOne(ctx context.Context, w wal.WAL, ch, appender string, seq map[string]int) error {
	a, msg := v.chk.NewAttempt(ch, appender, seq[ch])
	seq[ch]++
	t0 := time.Now()
	v.sent.add(a.Tag, t0, v.o.readers)
	actx, cancel := context.WithTimeout(ctx, v.o.appendTO)
	res, err := w.Append(actx, msg)
	cancel()
	d := time.Since(t0)
	var id message.MessageID
	if res != nil {
		id = res.MessageID
	}
	v.report(v.chk.Done(a, id, err))
	if err == nil && id != nil {
		v.appendHist.record(d)
		v.noteAcked(ch, id)
		return nil
	}
	if !errors.Is(err, wal.ErrOutcomeUnknown) {
		v.sent.drop(a.Tag)
	}
	if err == nil {
		err = fmt.Errorf("%w: Append returned neither an ID nor an error", wal.ErrOutcomeUnknown)
	}
	return err
}

// pace holds an append back to the target rate.
func (v *verifier) pace(ctx context.Context) {
	if v.o.rate <= 0 {
		return
	}
	k := v.slots.Add(1)
	due := v.start.Add(time.Duration(float64(k) / v.o.rate * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		_ = sleepCtx(ctx, d)
	}
}

func (v *verifier) noteAcked(ch string, id message.MessageID) {
	v.mu.Lock()
	if m := v.maxAcked[ch]; m == nil || m.LT(id) {
		v.maxAcked[ch] = id
	}
	v.mu.Unlock()
	n := v.acked.Add(1)
	for i, m := range v.marks {
		if n == m {
			close(v.marked[i])
		}
	}
}

// injectFaults applies the run's faults at their marks: a share of the
// messages acked, or of the duration.
func (v *verifier) injectFaults() {
	o, ctx := v.o, v.appendCtx
	for i := range o.faults {
		if len(v.marks) > 0 {
			select {
			case <-v.marked[i]:
			case <-v.appendersDone:
				if v.acked.Load() < v.marks[i] {
					return
				}
			case <-ctx.Done():
				return
			}
		} else {
			at := v.start.Add(o.duration * time.Duration(i+1) / time.Duration(o.faults+1))
			select {
			case <-time.After(time.Until(at)):
			case <-v.appendersDone:
				return
			case <-ctx.Done():
				return
			}
		}
		kind := o.faultKinds[i%len(o.faultKinds)]
		rec := faultRecord{At: time.Since(v.start).Round(time.Millisecond).String(), AtAcked: v.acked.Load(), Kind: kind}
		t0 := time.Now()
		var err error
		if kind == faultReopen {
			err = v.sess.reopen(ctx)
		} else {
			var res faultResult
			res, err = v.cc.inject(ctx, kind)
			rec.Detail = res.Detail
		}
		rec.Took = time.Since(t0).Round(time.Millisecond).String()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			rec.Error = err.Error()
		}
		v.mu.Lock()
		v.faults = append(v.faults, rec)
		v.mu.Unlock()
		status := "injected"
		if err != nil {
			status = "FAILED: " + oneLine(err.Error())
		}
		fmt.Fprintf(v.a.stderr, "walctl: fault %d/%d %s %s at %s, %d acked\n", i+1, o.faults, kind, status, rec.At, rec.AtAcked)
	}
}

// truncate truncates every channel up to its newest acked message.
func (v *verifier) truncate(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	g, _ := v.sess.current()
	for _, ch := range v.names {
		v.mu.Lock()
		id := v.maxAcked[ch]
		v.mu.Unlock()
		if id == nil {
			continue
		}
		w, err := g.writer(ctx, ch, v.o.term)
		if err == nil {
			err = w.Truncate(ctx, id)
		}
		if err != nil {
			fmt.Fprintf(v.a.stderr, "walctl: truncate %s: %v\n", ch, oneLine(err.Error()))
		}
	}
}
