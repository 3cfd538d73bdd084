package adaptor_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// misbehavingOpener's WALs misbehave on Append by payload: "panic" panics,
// "goexit" ends the calling goroutine, "noid" returns neither an ID nor an
// error (each after storing the message, the worst case for the cache).
type misbehavingOpener struct{ walimpls.OpenerImpls }

func (o misbehavingOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	w, err := o.OpenerImpls.Open(ctx, opt)
	if err != nil {
		return nil, err
	}
	return misbehavingWAL{w}, nil
}

type misbehavingWAL struct{ walimpls.WALImpls }

func (w misbehavingWAL) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	id, err := w.WALImpls.Append(ctx, msg)
	switch string(msg.Payload()) {
	case "panic":
		panic("driver bug")
	case "goexit":
		runtime.Goexit()
	case "noid":
		return nil, nil
	}
	return id, err
}

// panicky panics in DoAppend before or after calling next, by payload.
type panicky struct{ interceptors.Nop }

func (panicky) DoAppend(ctx context.Context, msg message.MutableMessage, next interceptors.AppendFunc) (*wal.AppendResult, error) {
	if string(msg.Payload()) == "panic-before" {
		panic("interceptor bug before next")
	}
	res, err := next(ctx, msg)
	if string(msg.Payload()) == "panic-after" {
		panic("interceptor bug after next")
	}
	return res, err
}

// TestAppendCompletesCacheSlotOnEveryPath: whatever way one append through
// the chain ends, its write-ahead cache slot is completed, so the appends
// after it are still published to the cache (a leaked slot would hold back
// every later entry, growing the pending set for ever) and a tailing
// scanner gets them in order, with nothing the driver may have stored
// skipped.
func TestAppendCompletesCacheSlotOnEveryPath(t *testing.T) {
	for _, path := range []struct {
		payload string
		run     func(w wal.WAL, payload string) // makes the append, recovering what it raises
		wantErr error                           // for the paths that return
		stored  bool                            // the driver stored it
	}{
		{payload: "panic", run: appendRecovering, stored: true},
		{payload: "goexit", run: appendInOwnGoroutine, stored: true},
		{payload: "noid", wantErr: wal.ErrOutcomeUnknown, stored: true},
		{payload: "panic-before", run: appendRecovering},
		{payload: "panic-after", run: appendRecovering, stored: true},
	} {
		t.Run(path.payload, func(t *testing.T) {
			impl, _ := memory.NewBuilder(memory.WithStore(memory.NewStore())).Build()
			o := adaptor.NewOpener(memory.Name, misbehavingOpener{impl}, adaptor.WithWriteAheadCache(1<<20),
				adaptor.WithInterceptors(interceptors.BuilderFunc(func(interceptors.Param) interceptors.Interceptor { return panicky{} })))
			defer o.Close()
			w := open(t, o, newChannel(t), 1, wal.ReadWrite)
			first := appendTagged(t, w, "first", 1)[0]
			s := mustRead(t, w, "tail", wal.StartAfter(first))
			if path.run != nil {
				path.run(w, path.payload)
			} else if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte(path.payload), nil)); !errors.Is(err, path.wantErr) {
				t.Fatalf("append: %v, want %v", err, path.wantErr)
			}
			last := appendTagged(t, w, "last", 1)[0]
			if ok, state := adaptor.CacheSettled(w); !ok {
				t.Fatalf("cache not settled after the %s append and one more: %s", path.payload, state)
			}
			got := collectUntil(t, s, last)
			want := 1
			if path.stored {
				want = 2
				if string(got[0].Payload()) != path.payload {
					t.Errorf("first delivered %q, want the stored %q", got[0].Payload(), path.payload)
				}
			}
			if len(got) != want || got[len(got)-1].Properties()["tag"] != "last-0" {
				t.Fatalf("delivered %v, want %d messages ending with last-0", tags(got), want)
			}
		})
	}
}

func appendRecovering(w wal.WAL, payload string) {
	defer func() { _ = recover() }()
	_, _ = w.Append(context.Background(), message.NewMutableMessage([]byte(payload), nil))
}

func appendInOwnGoroutine(w wal.WAL, payload string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = w.Append(context.Background(), message.NewMutableMessage([]byte(payload), nil))
	}()
	<-done
}
