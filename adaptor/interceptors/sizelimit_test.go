package interceptors_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

func TestSizeLimit(t *testing.T) {
	called := 0
	next := func(context.Context, message.MutableMessage) (*wal.AppendResult, error) {
		called++
		return &wal.AppendResult{}, nil
	}
	do := func(sl interceptors.SizeLimit, caps int, msg message.MutableMessage) error {
		ic := sl.Build(interceptors.Param{WALName: "memory", Channel: wal.Channel{Name: "ch"}, Capabilities: wal.Capabilities{MaxMessageSize: caps}})
		_, err := ic.(interceptors.AppendInterceptor).DoAppend(context.Background(), msg, next)
		return err
	}
	ten := message.NewMutableMessage(make([]byte, 8), message.Properties{"k": "v"})
	if err := do(interceptors.SizeLimit{Max: 10}, 0, ten); err != nil {
		t.Fatalf("exactly at the limit: %v", err)
	}
	if err := do(interceptors.SizeLimit{Max: 9}, 0, ten); !errors.Is(err, wal.ErrMessageTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if err := do(interceptors.SizeLimit{}, 9, ten); !errors.Is(err, wal.ErrMessageTooLarge) {
		t.Fatalf("over the backend's limit: %v", err)
	}
	if err := do(interceptors.SizeLimit{}, 0, message.NewMutableMessage(make([]byte, 1<<20), nil)); err != nil {
		t.Fatalf("no limit: %v", err)
	}
	if called != 2 {
		t.Fatalf("next called %d times, want 2 (never for refused messages)", called)
	}
}
