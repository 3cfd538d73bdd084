package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestEachLineSplitsLines(t *testing.T) {
	var got []string
	err := eachLine(context.Background(), strings.NewReader("one\r\ntwo\n\nthree"), func(b []byte) error {
		got = append(got, string(b))
		return nil
	})
	if err != nil || strings.Join(got, "|") != "one|two||three" {
		t.Fatalf("got %q, %v; want one|two||three, nil (an empty line is an empty message)", got, err)
	}
}

// A signal that arrives while a line is being handled ends eachLine at
// once, although its reader goroutine saw the signal first and is gone
// (CI caught walctl append waiting forever for it).
func TestEachLineEndsWhenInterruptedWhileHandlingALine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	handled := 0
	done := make(chan error, 1)
	go func() {
		done <- eachLine(ctx, strings.NewReader("one\ntwo\nthree\n"), func([]byte) error {
			handled++
			cancel()
			return nil
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errInterrupted) || handled != 1 {
			t.Fatalf("eachLine = %v after %d lines, want errInterrupted after 1", err, handled)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("eachLine still running 10s after its context ended")
	}
}

// A reader that blocks (a terminal with nothing typed) does not hold
// eachLine up after its context ends.
func TestEachLineEndsWhileReadBlocks(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eachLine(ctx, r, func([]byte) error { return nil }) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, errInterrupted) {
			t.Fatalf("eachLine = %v, want errInterrupted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("eachLine still running 10s after its context ended")
	}
}

func TestEachLineReturnsTheHandlersError(t *testing.T) {
	boom := errors.New("boom")
	if err := eachLine(context.Background(), strings.NewReader("a\nb\n"), func([]byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("eachLine = %v, want %v", err, boom)
	}
}
