package helper

import (
	"fmt"
	"sync"

	"github.com/mqwal/mqwal/walimpls"
)

// Lifetime is the closed flag of an opener or WAL plus the children it must
// close with it. The zero value is open and ready to use.
type Lifetime struct {
	mu       sync.Mutex
	closed   bool
	nextID   uint64
	children map[uint64]func()
}

// Check returns an error wrapping walimpls.ErrClosed once Close has begun.
func (l *Lifetime) Check(what string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("%w: %s", walimpls.ErrClosed, what)
	}
	return nil
}

// Closed reports whether Close has begun.
func (l *Lifetime) Closed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Add registers closeChild to run when l closes. It returns a func that
// unregisters the child (call it when the child closes on its own), or
// ErrClosed if l is closed already, in which case closeChild is not kept.
func (l *Lifetime) Add(what string, closeChild func()) (remove func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("%w: %s", walimpls.ErrClosed, what)
	}
	if l.children == nil {
		l.children = map[uint64]func(){}
	}
	id := l.nextID
	l.nextID++
	l.children[id] = closeChild
	return func() {
		l.mu.Lock()
		delete(l.children, id)
		l.mu.Unlock()
	}, nil
}

// Close marks l closed and closes its children, outside the lock so a child
// may call its remove func. It returns true only for the first call, so the
// owner releases its own resources exactly once.
func (l *Lifetime) Close() bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.closed = true
	children := l.children
	l.children = nil
	l.mu.Unlock()
	for _, closeChild := range children {
		closeChild()
	}
	return true
}
