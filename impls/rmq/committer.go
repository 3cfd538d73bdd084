package rmq

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/mqwal/mqwal/walimpls"
)

// The committer is the one goroutine per store that enters Pebble's commit
// pipeline: every batch the journal applies and every flush the driver
// asks for runs on it, one at a time, and only while the store has not
// failed.
//
// It was built for Pebble's own log (v2.1.7), which the journal replaced
// (Pebble now runs with DisableWAL): a commit that met a failed Pebble
// log panicked holding the commit lock, and a log rotation that met it
// parked forever. Neither can happen without Pebble's log. What it still
// gives: a call into Pebble that never returns, because Pebble stopped on
// a fatal error (a MANIFEST write failing after a flush parks Pebble's
// goroutine, and a commit waiting for room in the memtables then waits
// forever), holds the committer, never a caller's goroutine: callers wait
// only until Pebble stopped, so every Append, Truncate and Open returns.
// And nothing enters Pebble after the store failed.
//
// Serializing calls costs nothing: the journal's leader applies one group
// at a time anyway, and the write and fsync, which dominate, run before
// it, outside the committer.
type committer struct {
	calls    chan *pebbleCall
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// pebbleCall is one call the committer runs for a caller.
type pebbleCall struct {
	fn    func() error
	state atomic.Int32
	// done receives fn's error unless the caller gave up first.
	done chan error
}

// States of a pebbleCall. The committer moves it queued -> running ->
// finished; a caller that gives up moves it to abandoned from queued (fn
// never runs) or running (fn runs on, maybe forever).
const (
	callQueued int32 = iota
	callRunning
	callFinished
	callAbandoned
)

func startCommitter(s *store) *committer {
	c := &committer{calls: make(chan *pebbleCall), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run(s)
	return c
}

func (c *committer) run(s *store) {
	defer close(c.done)
	for {
		var call *pebbleCall
		select {
		case call = <-c.calls:
		case <-c.stop:
			return
		}
		if !call.state.CompareAndSwap(callQueued, callRunning) {
			continue // abandoned before it started
		}
		err := s.failed()
		if err == nil {
			err = s.guard(call.fn)
		} else {
			err = notEntered{err}
		}
		if call.state.CompareAndSwap(callRunning, callFinished) {
			call.done <- err
		}
	}
}

// close ends the committer once its call in progress returned; calls
// still waiting are refused as closed.
func (c *committer) close() {
	c.signalStop()
	<-c.done
}

// signalStop asks the committer to end without waiting for it.
func (c *committer) signalStop() { c.stopOnce.Do(func() { close(c.stop) }) }

// notEntered is the error of a call the committer refused because the
// store had failed: fn did not run, nothing was written.
type notEntered struct{ err error }

func (e notEntered) Error() string { return e.err.Error() }
func (e notEntered) Unwrap() error { return e.err }

// errPebbleStopped: Pebble stopped while it ran the call (see
// health.stop): the call may never return, and what it uses belongs to
// it from now on. The outcome is unknown.
var errPebbleStopped = errors.New("pebble stopped during the call")

// call runs fn, a call into Pebble's commit pipeline, on the committer and
// returns its error. It returns a notEntered error, having run nothing,
// once the store has failed, and an error wrapping errPebbleStopped if
// Pebble stopped while fn ran: fn may still be running then, so the
// caller must leave what fn uses alone (see closeBatch).
func (s *store) call(fn func() error) error {
	call := &pebbleCall{fn: fn, done: make(chan error, 1)}
	stopped := s.health.stopped
	select {
	case s.committer.calls <- call:
	case <-stopped:
		return notEntered{s.failed()}
	case <-s.committer.stop:
		return notEntered{fmt.Errorf("%w: rmq: store %s is closed", walimpls.ErrClosed, s.path)}
	}
	select {
	case err := <-call.done:
		return err
	case <-stopped:
	}
	switch {
	case call.state.CompareAndSwap(callQueued, callAbandoned):
		return notEntered{s.failed()}
	case call.state.CompareAndSwap(callRunning, callAbandoned):
		return fmt.Errorf("%w: %w", errPebbleStopped, s.failed())
	}
	return <-call.done // finished just now
}

// write commits b through the journal and waits for it per opts (written,
// fdatasynced if opts.Sync, applied to Pebble). An error other than
// notEntered may leave b in the journal: it failed the store (the caller
// says ErrOutcomeUnknown). b is closed (see closeBatch).
func (s *store) write(b *pebble.Batch, opts *pebble.WriteOptions) error {
	err := s.jnl.commit(b, opts.Sync)
	s.closeBatch(b, err)
	return err
}

// syncLog makes everything committed to the journal so far durable.
func (s *store) syncLog() error {
	return s.write(s.db.NewBatch(), pebble.Sync)
}

// closeBatch closes b, returning it to Pebble's pool, after it was
// committed (err nil) or never entered Pebble. After any other error
// Pebble may still hold it (a parked or panicked commit): it is left to
// the garbage collector.
func (s *store) closeBatch(b *pebble.Batch, err error) {
	if err == nil || isNotEntered(err) {
		_ = b.Close()
	}
}

func isNotEntered(err error) bool {
	var ne notEntered
	return errors.As(err, &ne)
}
