package helper

import (
	"context"
	"errors"
	"sync"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// Emit hands one message to the scanner's consumer. It blocks until the
// consumer has room or the scanner is stopping; then it returns the context
// error and the producer must return.
type Emit func(msg message.ImmutableMessage) error

// ProduceFunc is a driver's read loop. It emits messages in ID order until
// ctx ends (then it returns ctx.Err() or nil) or the read fails (then it
// returns why). It runs in the scanner's own goroutine.
type ProduceFunc func(ctx context.Context, emit Emit) error

// errClosedByCaller marks a Close from the scanner's own consumer, whose
// contract is that Error stays nil.
var errClosedByCaller = errors.New("scanner closed by its caller")

// Scanner implements walimpls.ScannerImpls around a ProduceFunc. The
// driver's loop only reads and emits; the scanner owns the goroutine, the
// channel, and the end-of-life order: the producer returns, Error is set,
// then Chan and Done are closed.
type Scanner struct {
	name   string
	ch     chan message.ImmutableMessage
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu  sync.Mutex
	err error
}

var _ walimpls.ScannerImpls = (*Scanner)(nil)

// NewScanner starts produce in a goroutine and returns the running scanner.
// bufSize is the read-ahead bound (ReadOption.BufferSize()).
func NewScanner(name string, bufSize int, produce ProduceFunc) *Scanner {
	s := newScanner(name, bufSize)
	go s.run(produce, nil)
	return s
}

// newScanner returns a scanner that runs nothing until go s.run.
func newScanner(name string, bufSize int) *Scanner {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Scanner{
		name:   name,
		ch:     make(chan message.ImmutableMessage, bufSize),
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
}

// run is the scanner's goroutine; onEnd, if set, runs last, after Done is
// closed.
func (s *Scanner) run(produce ProduceFunc, onEnd func()) {
	if onEnd != nil {
		defer onEnd()
	}
	err := produce(s.ctx, s.emit)
	if cause := context.Cause(s.ctx); cause != nil {
		// Stopped from outside: report the stop, not the producer's ctx error.
		err = cause
	}
	if errors.Is(err, errClosedByCaller) {
		err = nil
	}
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	close(s.ch)
	close(s.done)
}

func (s *Scanner) emit(msg message.ImmutableMessage) error {
	// Most sends find room in the buffer: try without select's locking of
	// both channels first (a tenth of a cold rmq scan's CPU went there).
	// Checking Done first keeps a stopped scanner from filling its buffer.
	select {
	case <-s.ctx.Done():
		return s.ctx.Err()
	default:
	}
	select {
	case s.ch <- msg:
		return nil
	default:
	}
	select {
	case s.ch <- msg:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// Name is the scanner's name.
func (s *Scanner) Name() string { return s.name }

// Chan delivers the messages; closed when the scanner ends.
func (s *Scanner) Chan() <-chan message.ImmutableMessage { return s.ch }

// Done is closed after Chan.
func (s *Scanner) Done() <-chan struct{} { return s.done }

// Error is why the scanner ended; nil while it runs.
func (s *Scanner) Error() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops the scanner and waits for its goroutine. It returns the
// failure that had already ended the scanner, if any.
func (s *Scanner) Close() error {
	select {
	case <-s.done:
		return s.Error()
	default:
	}
	s.cancel(errClosedByCaller)
	<-s.done
	return s.Error()
}

// Stop ends the scanner with cause as its Error (its WAL closed: ErrClosed)
// and waits for it. Stopping an ended scanner changes nothing.
func (s *Scanner) Stop(cause error) {
	s.cancel(cause)
	<-s.done
}
