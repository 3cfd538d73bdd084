package wal_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// plainWAL and plainOpener implement only the required interfaces (the
// methods the helpers do not call panic through the nil embedded value).
type plainWAL struct{ wal.WAL }

func (plainWAL) WALName() string      { return "plain" }
func (plainWAL) Channel() wal.Channel { return wal.Channel{Name: "ch"} }

type plainOpener struct{ wal.Opener }

// latestWAL answers LatestID.
type latestWAL struct{ plainWAL }

func (latestWAL) LatestID(context.Context) (message.MessageID, error) { return nil, nil }

// The helpers ask the optional interfaces, and answer ErrUnsupported for a
// WAL or Opener without them and ErrInvalidArgument for a nil one.
func TestOptionalHelpers(t *testing.T) {
	ctx := context.Background()
	if _, err := wal.LatestID(ctx, plainWAL{}); !errors.Is(err, wal.ErrUnsupported) {
		t.Errorf("LatestID of a WAL without LatestIDReader: %v, want ErrUnsupported", err)
	}
	if !errors.Is(wal.ErrUnsupported, errors.ErrUnsupported) {
		t.Error("wal.ErrUnsupported is not errors.ErrUnsupported")
	}
	if id, err := wal.LatestID(ctx, latestWAL{}); err != nil || id != nil {
		t.Errorf("LatestID of a WAL with LatestIDReader = %v, %v; want its answer", id, err)
	}
	if _, err := wal.Stat(ctx, plainWAL{}); !errors.Is(err, wal.ErrUnsupported) {
		t.Errorf("Stat of a WAL without StatReader: %v, want ErrUnsupported", err)
	}
	if _, err := wal.ListChannels(ctx, plainOpener{}); !errors.Is(err, wal.ErrUnsupported) {
		t.Errorf("ListChannels of an Opener without ChannelLister: %v, want ErrUnsupported", err)
	}
	if _, err := wal.LatestID(ctx, nil); !errors.Is(err, wal.ErrInvalidArgument) {
		t.Errorf("LatestID(nil): %v, want ErrInvalidArgument", err)
	}
	if _, err := wal.Stat(ctx, nil); !errors.Is(err, wal.ErrInvalidArgument) {
		t.Errorf("Stat(nil): %v, want ErrInvalidArgument", err)
	}
	if _, err := wal.ListChannels(ctx, nil); !errors.Is(err, wal.ErrInvalidArgument) {
		t.Errorf("ListChannels(nil): %v, want ErrInvalidArgument", err)
	}
}
