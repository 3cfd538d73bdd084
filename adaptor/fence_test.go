package adaptor_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// TestReadSideFencing: two WALs on one memory channel (memory cannot
// fence), terms 1 and 2, appending interleaved and concurrently. No term-1
// message stored after term 2's fence record may be delivered by any
// scanner that reads across the fence: a new reader, the zombie's own
// tailing scanner, the new owner's scanner, and a scanner started after a
// term-1 message just before the fence.
func TestReadSideFencing(t *testing.T) {
	for i := range 5 {
		t.Run(fmt.Sprint(i), func(t *testing.T) { runFencing(t) })
	}
}

func runFencing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store := memory.NewStore()
	ch := newChannel(t)
	zombie := open(t, memoryOpener(t, store), ch, 1, wal.ReadWrite)
	appendTagged(t, zombie, "before", 10)
	zombieTail, err := zombie.Read(ctx, wal.ReadOption{Name: "zombie-tail", ReadAheadBufferSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer zombieTail.Close()

	// The zombie keeps appending while the new owner opens and appends.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := zombie.Append(ctx, message.NewMutableMessage([]byte("z"), message.Properties{"tag": fmt.Sprint("zombie-", i)})); err != nil {
				t.Errorf("zombie append: %v", err)
				return
			}
		}
	}()
	owner := open(t, memoryOpener(t, store, adaptor.WithWriteAheadCache(1<<20)), ch, 2, wal.ReadWrite)
	ownerTail, err := owner.Read(ctx, wal.ReadOption{Name: "owner-tail"})
	if err != nil {
		t.Fatal(err)
	}
	defer ownerTail.Close()
	for i := range 30 {
		appendTagged(t, owner, fmt.Sprint("owner-", i), 1)
		appendTagged(t, zombie, fmt.Sprint("late-", i), 1) // surely after the fence
	}
	close(stop)
	wg.Wait()
	end := appendTagged(t, owner, "end", 1)[0]

	// Ground truth from the bare driver: the order as stored.
	raw := rawMessages(t, store, ch, end)
	fence := -1
	var lastBeforeFence message.MessageID
	var want []message.MessageID
	lateZombies := 0
	for i, m := range raw {
		if m.Properties()[interceptors.PropertyFence] == "2" {
			fence = i
			continue
		}
		if interceptors.IsFenceRecord(m) {
			continue
		}
		term, _ := strconv.Atoi(m.Properties()[interceptors.PropertyTerm])
		if fence < 0 {
			lastBeforeFence = m.MessageID()
			want = append(want, m.MessageID())
		} else if term == 2 {
			want = append(want, m.MessageID())
		} else {
			lateZombies++
		}
	}
	if fence < 0 || lateZombies < 30 {
		t.Fatalf("bad setup: fence at %d, %d zombie messages after it", fence, lateZombies)
	}

	reader := open(t, memoryOpener(t, store), ch, 0, wal.ReadOnly)
	fromAll, err := reader.Read(ctx, wal.ReadOption{Name: "new-reader"})
	if err != nil {
		t.Fatal(err)
	}
	defer fromAll.Close()
	fromMid, err := reader.Read(ctx, wal.ReadOption{Name: "mid-reader", DeliverPolicy: wal.StartAfter(lastBeforeFence)})
	if err != nil {
		t.Fatal(err)
	}
	defer fromMid.Close()

	for _, r := range []struct {
		s    wal.Scanner
		want []message.MessageID
	}{
		{fromAll, want},
		{zombieTail, want},
		{ownerTail, want},
		{fromMid, wantFrom(want, lastBeforeFence)},
	} {
		expectIDs(t, r.s, end, r.want)
	}
}

// wantFrom is the suffix of want after id.
func wantFrom(want []message.MessageID, id message.MessageID) []message.MessageID {
	for i, w := range want {
		if id.LT(w) {
			return want[i:]
		}
	}
	return nil
}

func appendTagged(t testing.TB, w wal.WAL, tag string, n int) []message.MessageID {
	t.Helper()
	var ids []message.MessageID
	for i := range n {
		res, err := w.Append(context.Background(), message.NewMutableMessage([]byte(tag), message.Properties{"tag": fmt.Sprint(tag, "-", i)}))
		if err != nil {
			t.Fatalf("append %s: %v", tag, err)
		}
		ids = append(ids, res.MessageID)
	}
	return ids
}

// collectUntil reads s up to and including id.
func collectUntil(t testing.TB, s wal.Scanner, id message.MessageID) []message.ImmutableMessage {
	t.Helper()
	var got []message.ImmutableMessage
	for {
		m := recv(t, s, 10*time.Second)
		got = append(got, m)
		if !m.MessageID().LT(id) {
			return got
		}
	}
}

// rawMessages reads the channel through the bare memory driver, up to end.
func rawMessages(t testing.TB, store *memory.Store, ch string, end message.MessageID) []message.ImmutableMessage {
	t.Helper()
	o, err := memory.NewBuilder(memory.WithStore(store)).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, AccessMode: walimpls.ReadOnly}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.Read(context.Background(), walimpls.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []message.ImmutableMessage
	for m := range s.Chan() {
		out = append(out, m)
		if !m.MessageID().LT(end) {
			break
		}
	}
	return out
}
