package memory

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

func claimsString(cs []walimpls.Claim) string {
	s := ""
	for _, c := range cs {
		s += fmt.Sprintf("(%d after %v)", c.Term, c.After)
	}
	return s
}

func openTerm(t *testing.T, o walimpls.OpenerImpls, term int64, mode walimpls.AccessMode) walimpls.WALImpls {
	t.Helper()
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "c", Term: term, AccessMode: mode}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func appendOne(t *testing.T, w walimpls.WALImpls) message.MessageID {
	t.Helper()
	id, err := w.Append(context.Background(), message.NewMutableMessage([]byte("x"), nil))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestClaims: a term claims the channel with its first stored message,
// After the message before it; a term claims once (a reopen, a second WAL
// of the term, a lower term that claimed before add nothing); a WAL that
// never stores claims nothing; Truncate merges the claims below the
// retained range into the highest one.
func TestClaims(t *testing.T) {
	ctx := context.Background()
	o, _ := NewBuilder(WithStore(NewStore())).Build()
	defer o.Close()
	w1 := openTerm(t, o, 1, walimpls.ReadWrite)
	reader := openTerm(t, o, 0, walimpls.ReadOnly)
	claims := func() string {
		t.Helper()
		cs, err := reader.(walimpls.ClaimReader).Claims(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return claimsString(cs)
	}
	if got := claims(); got != "" {
		t.Fatalf("an open that stored nothing claimed: %s", got)
	}
	appendOne(t, w1) // 0
	appendOne(t, w1) // 1
	w3 := openTerm(t, o, 3, walimpls.ReadWrite)
	appendOne(t, w3)                                    // 2
	appendOne(t, openTerm(t, o, 3, walimpls.ReadWrite)) // 3: same term again
	appendOne(t, w1)                                    // 4: the zombie
	w2 := openTerm(t, o, 2, walimpls.ReadWrite)         // a lower term, first store after 3's
	appendOne(t, w2)                                    // 5
	appendOne(t, w3)                                    // 6
	if got, want := claims(), "(1 after <nil>)(3 after 1)(2 after 4)"; got != want {
		t.Fatalf("claims %s, want %s", got, want)
	}
	if err := w3.Truncate(ctx, helper.NewInt64ID(Name, 0)); err != nil {
		t.Fatal(err)
	}
	if got, want := claims(), "(1 after <nil>)(3 after 1)(2 after 4)"; got != want {
		t.Fatalf("after truncate(0): claims %s, want %s", got, want)
	}
	if err := w3.Truncate(ctx, helper.NewInt64ID(Name, 4)); err != nil {
		t.Fatal(err)
	}
	// 1, 3 and 2 all apply to every retained message: 3 stands for them.
	if got, want := claims(), "(3 after 1)"; got != want {
		t.Fatalf("after truncate(4): claims %s, want %s", got, want)
	}
	reader.Close()
	if _, err := reader.(walimpls.ClaimReader).Claims(ctx); !errors.Is(err, walimpls.ErrClosed) {
		t.Fatalf("Claims after Close: %v, want ErrClosed", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := w1.(walimpls.ClaimReader).Claims(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Claims with a cancelled ctx: %v", err)
	}
}
