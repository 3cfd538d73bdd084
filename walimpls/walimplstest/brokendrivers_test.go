package walimplstest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// breakage is the one rule a broken driver violates.
type breakage string

const (
	intact            breakage = "intact"
	dropsMessage      breakage = "drops a message"
	duplicatesMessage breakage = "duplicates a message"
	reorders          breakage = "reorders two messages"
	ignoresStartAfter breakage = "ignores StartAfter"
	skipsTruncated    breakage = "silently skips a truncated range"
	leaksScanner      breakage = "leaks its scanner on Close"
	readOnlyAppends   breakage = "lets a ReadOnly WAL append"
)

// TestHarnessFailsBrokenDrivers proves the harness can fail: each driver
// below breaks one rule, and each must fail the case named beside it.
func TestHarnessFailsBrokenDrivers(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	cases := map[breakage]string{
		intact:            "",
		dropsMessage:      "RoundTrip",
		duplicatesMessage: "IDOrder",
		reorders:          "IDOrder",
		ignoresStartAfter: "DeliverPolicies",
		skipsTruncated:    "Truncate",
		leaksScanner:      "CloseSemantics",
		readOnlyAppends:   "ReadOnly",
	}
	for b, mustFail := range cases {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			store := memory.NewStore()
			h := walimplstest.Harness{
				NewOpener: func() (walimpls.OpenerImpls, error) {
					inner, err := memory.NewBuilder(memory.WithStore(store), memory.WithMaxMessageSize(4096)).Build()
					return &brokenOpener{OpenerImpls: inner, b: b, release: release}, err
				},
				Timeout:     time.Second,
				QuietPeriod: 50 * time.Millisecond,
			}
			var failed []string
			for _, c := range walimplstest.Cases(h) {
				res := walimplstest.RunCase(c, h)
				if !res.Passed {
					failed = append(failed, c.Name)
					t.Logf("%s fails %s: %s", b, c.Name, strings.Join(res.Log, "; "))
				}
			}
			switch {
			case mustFail == "" && len(failed) > 0:
				t.Errorf("the intact wrapper fails %v: the self-test itself is broken", failed)
			case mustFail != "" && !contains(failed, mustFail):
				t.Errorf("a driver that %s passes case %s (failed: %v)", b, mustFail, failed)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type brokenOpener struct {
	walimpls.OpenerImpls
	b       breakage
	release chan struct{}
}

func (o *brokenOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	if opt == nil {
		return o.OpenerImpls.Open(ctx, opt)
	}
	reported := opt.Channel
	if o.b == readOnlyAppends && reported.AccessMode == walimpls.ReadOnly {
		opt = &walimpls.OpenOption{Channel: reported}
		opt.Channel.AccessMode = walimpls.ReadWrite
	}
	w, err := o.OpenerImpls.Open(ctx, opt)
	if err != nil {
		return nil, err
	}
	return &brokenWAL{WALImpls: w, o: o, channel: reported}, nil
}

type brokenWAL struct {
	walimpls.WALImpls
	o       *brokenOpener
	channel walimpls.Channel
}

func (w *brokenWAL) Channel() walimpls.Channel { return w.channel }

func (w *brokenWAL) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	if w.o.b == ignoresStartAfter && opt.DeliverPolicy.Kind() == walimpls.DeliverKindStartAfter {
		opt.DeliverPolicy = walimpls.StartFrom(opt.DeliverPolicy.ID())
	}
	s, err := w.WALImpls.Read(ctx, opt)
	if w.o.b == skipsTruncated && errors.Is(err, walimpls.ErrOutOfRange) {
		opt.DeliverPolicy = walimpls.DeliverAll()
		s, err = w.WALImpls.Read(ctx, opt)
	}
	if err != nil {
		return nil, err
	}
	switch w.o.b {
	case leaksScanner:
		return newLeakyScanner(s, w.o.release), nil
	case dropsMessage, duplicatesMessage, reorders:
		return helper.NewScanner(opt.Name, opt.BufferSize(), func(ctx context.Context, emit helper.Emit) error {
			defer s.Close()
			return mangle(ctx, s, emit, w.o.b)
		}), nil
	}
	return s, nil
}

// mangle forwards inner's messages, breaking the stream at its second and
// third message the way b says.
func mangle(ctx context.Context, inner walimpls.ScannerImpls, emit helper.Emit, b breakage) error {
	var held message.ImmutableMessage
	for i := 0; ; i++ {
		var m message.ImmutableMessage
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg, ok := <-inner.Chan():
			if !ok {
				return inner.Error()
			}
			m = msg
		}
		out := []message.ImmutableMessage{m}
		switch {
		case b == dropsMessage && i == 2:
			out = nil
		case b == duplicatesMessage && i == 1:
			out = append(out, m)
		case b == reorders && i == 1:
			held, out = m, nil
		case b == reorders && i == 2:
			out = append(out, held)
		}
		for _, m := range out {
			if err := emit(m); err != nil {
				return err
			}
		}
	}
}

// leakyScanner forwards messages but never ends: Close returns at once and
// leaves its goroutine running until the test releases it.
type leakyScanner struct {
	walimpls.ScannerImpls
	ch   chan message.ImmutableMessage
	done chan struct{}
}

func newLeakyScanner(inner walimpls.ScannerImpls, release chan struct{}) *leakyScanner {
	s := &leakyScanner{ScannerImpls: inner, ch: make(chan message.ImmutableMessage), done: make(chan struct{})}
	go func() {
		for m := range inner.Chan() {
			select {
			case s.ch <- m:
			case <-release:
				return
			}
		}
		<-release
	}()
	return s
}

func (s *leakyScanner) Chan() <-chan message.ImmutableMessage { return s.ch }
func (s *leakyScanner) Done() <-chan struct{}                 { return s.done }
func (s *leakyScanner) Error() error                          { return nil }
func (s *leakyScanner) Close() error                          { return nil }
