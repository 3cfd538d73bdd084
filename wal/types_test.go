package wal_test

import (
	"errors"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

func msg(props message.Properties) message.ImmutableMessage {
	return message.NewImmutableMessage(nil, "ch", nil, props)
}

func TestFilterProperty(t *testing.T) {
	any := wal.FilterProperty("k")
	one := wal.FilterProperty("k", "a", "b")
	cases := []struct {
		props     message.Properties
		wantAny   bool
		wantOneOf bool
	}{
		{nil, false, false},
		{message.Properties{"k": "a"}, true, true},
		{message.Properties{"k": "b"}, true, true},
		{message.Properties{"k": "c"}, true, false},
		{message.Properties{"other": "a"}, false, false},
	}
	for _, c := range cases {
		if got := any(msg(c.props)); got != c.wantAny {
			t.Errorf("FilterProperty(k)(%v) = %v", c.props, got)
		}
		if got := one(msg(c.props)); got != c.wantOneOf {
			t.Errorf("FilterProperty(k, a, b)(%v) = %v", c.props, got)
		}
	}
}

func TestFilterPredicate(t *testing.T) {
	if !wal.FilterPredicate(nil)(msg(nil)) {
		t.Fatal("nil predicate must keep everything")
	}
	even := wal.FilterPredicate(func(m message.ImmutableMessage) bool { return len(m.Properties())%2 == 0 })
	if !even(msg(nil)) || even(msg(message.Properties{"a": ""})) {
		t.Fatal("predicate not applied")
	}
}

func TestReadOptionValidate(t *testing.T) {
	if err := (wal.ReadOption{Filters: []wal.MessageFilter{nil}}).Validate("memory"); !errors.Is(err, wal.ErrInvalidArgument) {
		t.Fatalf("nil filter: got %v", err)
	}
	if err := (wal.ReadOption{ReadAheadBufferSize: -1}).Validate("memory"); !errors.Is(err, wal.ErrInvalidArgument) {
		t.Fatalf("negative buffer: got %v", err)
	}
	if err := (wal.ReadOption{DeliverPolicy: wal.StartFrom(nil)}).Validate("memory"); !errors.Is(err, wal.ErrInvalidArgument) {
		t.Fatalf("StartFrom(nil): got %v", err)
	}
	if err := (wal.ReadOption{}).Validate("memory"); err != nil {
		t.Fatal(err)
	}
}

func TestAliasesAreTheDriverValues(t *testing.T) {
	if !errors.Is(wal.ErrClosed, walimpls.ErrClosed) || wal.ReadOnly != walimpls.ReadOnly {
		t.Fatal("wal must re-export walimpls' values")
	}
	var o *wal.OpenOption
	if err := o.Validate(); !errors.Is(err, wal.ErrInvalidArgument) {
		t.Fatalf("nil OpenOption: %v", err)
	}
	if err := (&wal.OpenOption{Channel: wal.Channel{Name: "bad name"}}).Validate(); !errors.Is(err, wal.ErrInvalidArgument) {
		t.Fatalf("bad channel: %v", err)
	}
}
