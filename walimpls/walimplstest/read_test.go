package walimplstest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

func TestReadN(t *testing.T) {
	o, err := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "readn", Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a", "b", "c"} {
		if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte(p), nil)); err != nil {
			t.Fatal(err)
		}
	}

	got := walimplstest.ReadN(t, w, walimpls.DeliverAll(), 3, 50*time.Millisecond)
	var payloads []string
	for _, m := range got {
		payloads = append(payloads, string(m.Payload()))
	}
	if strings.Join(payloads, "") != "abc" {
		t.Fatalf("ReadN = %q, want a b c", payloads)
	}

	// More messages than asked for, with quiet checked, must fail.
	tooMany := walimplstest.Case{Name: "too many", Run: func(r walimplstest.R, _ walimplstest.Harness) {
		walimplstest.ReadN(r, w, walimpls.DeliverAll(), 2, 50*time.Millisecond)
	}}
	if res := walimplstest.RunCase(tooMany, walimplstest.Harness{}); res.Passed {
		t.Fatal("ReadN of 2 with 3 stored and quiet checked passed, want a failure")
	}

	// A scanner that ends after the messages is not quiet: it may have
	// stopped where it should have delivered more.
	ended := walimplstest.Case{Name: "ended", Run: func(r walimplstest.R, _ walimplstest.Harness) {
		walimplstest.ReadN(r, endingWAL{w}, walimpls.DeliverAll(), 3, 50*time.Millisecond)
	}}
	res := walimplstest.RunCase(ended, walimplstest.Harness{})
	if res.Passed || !strings.Contains(strings.Join(res.Log, " "), "scanner ended") {
		t.Fatalf("ReadN with quiet on a scanner that ended after its 3 messages: passed %v, log %q; want a failure saying the scanner ended", res.Passed, res.Log)
	}
}

// endingWAL's scanners deliver what is stored when they open, then end
// with a nil Error, as a broken driver that does not tail would.
type endingWAL struct{ walimpls.ROWALImpls }

func (w endingWAL) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	latest, err := w.ROWALImpls.(walimpls.LatestIDReader).LatestID(ctx)
	if err != nil {
		return nil, err
	}
	inner, err := w.ROWALImpls.Read(ctx, opt)
	if err != nil {
		return nil, err
	}
	return helper.NewScanner(opt.Name, opt.BufferSize(), func(ctx context.Context, emit helper.Emit) error {
		defer inner.Close()
		for m := range inner.Chan() {
			if err := emit(m); err != nil {
				return err
			}
			if latest.LTE(m.MessageID()) {
				return nil
			}
		}
		return inner.Error()
	}), nil
}
