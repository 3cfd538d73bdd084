package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mqwal/mqwal/wal"
)

// session is verify's connection to the backend, which the reopen fault
// replaces: writers and readers take the current generation, and when its
// WALs report ErrClosed they wait for the next one.
type session struct {
	a    *app
	term int64

	mu      sync.Mutex
	gen     *generation
	changed chan struct{} // closed when gen is replaced
}

// generation is one backend client and the writer of each channel on it,
// opened when first needed.
type generation struct {
	b       *backend
	mu      sync.Mutex
	writers map[string]wal.WAL
}

func newSession(a *app, b *backend, term int64) *session {
	return &session{a: a, term: term, gen: &generation{b: b, writers: map[string]wal.WAL{}}, changed: make(chan struct{})}
}

// current is the generation in use and a channel closed once it is replaced.
func (s *session) current() (*generation, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen, s.changed
}

// writer returns channel's ReadWrite WAL of g, opening it the first time.
func (g *generation) writer(ctx context.Context, channel string, term int64) (wal.WAL, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if w, ok := g.writers[channel]; ok {
		return w, nil
	}
	w, err := g.b.opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: channel, Term: term, AccessMode: wal.ReadWrite}})
	if err != nil {
		return nil, err
	}
	g.writers[channel] = w
	return w, nil
}

// reopen closes the current client, every WAL and scanner on it, then
// builds a new one, as a restarted process would. The old one is closed
// first, so an embedded store (rmq) is really reopened from disk.
func (s *session) reopen(ctx context.Context) error {
	s.mu.Lock()
	old := s.gen
	s.mu.Unlock()
	old.b.Close()
	var b *backend
	var err error
	for attempt := 1; ; attempt++ {
		if b, err = s.a.open(verifyOpenerOpts...); err == nil {
			break
		}
		if attempt == 20 || sleepCtx(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("reopen: %w", err)
		}
	}
	s.mu.Lock()
	s.gen = &generation{b: b, writers: map[string]wal.WAL{}}
	changed := s.changed
	s.changed = make(chan struct{})
	s.mu.Unlock()
	close(changed)
	return nil
}

// close closes the current client within d; a backend that takes longer
// (one that does not answer) is left to the process's exit.
func (s *session) close(d time.Duration) {
	g, _ := s.current()
	closeWithin(g.b.Close, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff waits a little longer after each failure, up to 200ms.
func backoff(ctx context.Context, failures int) {
	_ = sleepCtx(ctx, min(time.Duration(failures)*10*time.Millisecond, 200*time.Millisecond))
}
