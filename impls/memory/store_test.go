package memory

import (
	"context"
	"errors"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

func TestStoreCopiesBytes(t *testing.T) {
	c, _ := NewStore().channel("c", true)
	payload := []byte("abc")
	props := message.Properties{"k": "v"}
	off := c.append(payload, props, noClaim)
	payload[0], props["k"] = 'X', "changed"
	rec, ok, _, _ := c.next(off)
	if !ok || string(rec.payload) != "abc" || rec.props["k"] != "v" {
		t.Fatalf("stored record changed with the caller's buffers: %q %v", rec.payload, rec.props)
	}
}

func TestStoreTruncate(t *testing.T) {
	c, _ := NewStore().channel("c", true)
	for range 5 {
		c.append(nil, nil, noClaim)
	}
	c.truncate(2)
	if _, ok, first, _ := c.next(2); ok || first != 3 {
		t.Fatalf("after truncate(2): offset 2 present=%v, first=%d", ok, first)
	}
	c.truncate(1) // below the retained range: nothing changes
	if _, ok, first, _ := c.next(3); !ok || first != 3 {
		t.Fatalf("truncate below the range changed the log: first=%d", first)
	}
	if c.end() != 5 {
		t.Fatalf("end = %d, want 5", c.end())
	}
}

func TestTruncateBeyondEndIsRefused(t *testing.T) {
	o, _ := NewBuilder(WithStore(NewStore())).Build()
	defer o.Close()
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Truncate(context.Background(), helper.NewInt64ID(Name, 0)); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Fatalf("truncate of an empty channel: %v, want ErrInvalidArgument", err)
	}
}
