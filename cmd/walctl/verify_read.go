package main

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// caughtUp reports whether last is at or past ch's newest acked message.
func (v *verifier) caughtUp(ch string, last message.MessageID) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.maxAcked[ch]
	return m == nil || (last != nil && m.LTE(last))
}

// readLoop reads ch from its start until the run's end, across reopens and
// scanner failures (resuming after the last message), and reports whether
// it reached the end.
func (v *verifier) readLoop(ch string, r *walimplstest.CheckedReader) bool {
	ctx := v.readCtx
	var last message.MessageID
	failures := 0
	for ctx.Err() == nil {
		g, changed := v.sess.current()
		// Taken before the open: an append acknowledged while the open
		// runs does not make its "no such channel" wrong.
		noneAcked := v.caughtUp(ch, nil)
		w, err := g.b.opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: ch, AccessMode: wal.ReadOnly}})
		var done bool
		if err == nil {
			policy := wal.DeliverAll()
			if last != nil {
				policy = wal.StartAfter(last)
			}
			var s wal.Scanner
			if s, err = w.Read(ctx, wal.ReadOption{Name: "walctl-verify-" + r.Name(), DeliverPolicy: policy, ReadAheadBufferSize: 256}); err == nil {
				done, err = v.drain(ch, r, s, &last)
				_ = s.Close()
			}
			w.Close()
		}
		switch {
		case done:
			return true
		case ctx.Err() != nil:
			return false
		case errors.Is(err, wal.ErrClosed):
			select {
			case <-changed:
			case <-ctx.Done():
			case <-time.After(time.Minute):
				v.anomaly(walimplstest.Problem{Kind: "reader-failed", Channel: ch, Reader: r.Name(), ID: last, Detail: err.Error()})
				return false
			}
		case errors.Is(err, wal.ErrNotFound) && noneAcked:
			// A ReadOnly open never creates a channel: while no append of
			// the channel was acked when the open began, "no such channel"
			// only means the writers had not opened it yet.
			failures++
			backoff(ctx, failures)
		default:
			if !wal.IsRetryable(err) {
				v.anomaly(walimplstest.Problem{Kind: "reader-failed", Channel: ch, Reader: r.Name(), ID: last,
					Detail: fmt.Sprintf("resuming after %v: %v", last, err)})
			}
			failures++
			backoff(ctx, failures)
		}
	}
	return false
}

// drain checks what s delivers until it reaches the end set for ch (done),
// ends (err), or the run is over. Once the writers are done, a reader that
// has every acked message and gets nothing for a second is done too: the
// newest record may be one the driver never delivers.
func (v *verifier) drain(ch string, r *walimplstest.CheckedReader, s wal.Scanner, last *message.MessageID) (done bool, err error) {
	idle := time.NewTimer(time.Second)
	defer idle.Stop()
	ending := v.endingC
	var idleC <-chan time.Time
	for {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				if err := s.Error(); !reachedEnd(err) {
					if err == nil {
						err = fmt.Errorf("%w: scanner ended", wal.ErrClosed)
					}
					return false, err
				}
				return true, nil
			}
			v.report(r.Deliver(appView(m)))
			*last = m.MessageID()
			if tag, ok := m.Properties().Get(walimplstest.TagProperty); ok {
				if t, ok := v.sent.delivered(tag); ok {
					v.e2eHist.record(time.Since(t))
				}
			}
			if idleC != nil {
				idle.Reset(time.Second)
			}
		case <-ending:
			ending = nil
			idle.Reset(time.Second)
			idleC = idle.C
		case <-idleC:
			if v.caughtUp(ch, *last) {
				return true, nil
			}
			idle.Reset(time.Second)
		case <-v.readCtx.Done():
			return false, v.readCtx.Err()
		}
	}
}

// sentTimes remembers when each message's append started until every
// reader has read it, for end-to-end latency.
type sentTimes struct {
	mu sync.Mutex
	m  map[string]*sentEntry
}

type sentEntry struct {
	t    time.Time
	left int
}

func (s *sentTimes) add(tag string, t time.Time, readers int) {
	if readers == 0 {
		return
	}
	s.mu.Lock()
	s.m[tag] = &sentEntry{t: t, left: readers}
	s.mu.Unlock()
}

func (s *sentTimes) drop(tag string) {
	s.mu.Lock()
	delete(s.m, tag)
	s.mu.Unlock()
}

func (s *sentTimes) delivered(tag string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[tag]
	if !ok {
		return time.Time{}, false
	}
	if e.left--; e.left <= 0 {
		delete(s.m, tag)
	}
	return e.t, true
}
