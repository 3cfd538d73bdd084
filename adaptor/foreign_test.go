package adaptor_test

import (
	"context"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// sharedLog presents a driver opener as one whose logs other clients can
// write to (Kafka, Pulsar): it declares no ExclusiveLog.
type sharedLog struct{ walimpls.OpenerImpls }

func (s sharedLog) Capabilities() walimpls.Capabilities {
	c := s.OpenerImpls.Capabilities()
	c.ExclusiveLog = false
	return c
}

// memoryForeignAppend stores a record in a channel of store through a bare
// memory opener, as another client of a shared backend would: without the
// adaptor's term or fence properties.
func memoryForeignAppend(store *memory.Store) func(ctx context.Context, channel string, payload []byte) error {
	return walimplstest.AppendThrough(memory.NewBuilder(memory.WithStore(store)).Build)
}

// A scanner of the channel's ReadWrite WAL that has caught up must still
// deliver what another client of a shared backend stores between (and
// after) the WAL's own appends, as a ReadOnly WAL's scanner does. Before,
// the write-ahead cache, which holds only the WAL's own appends, fed the
// caught-up scanner and skipped the foreign records: m2 came right after
// m1. The cache is asked for and the idle recheck is an hour, so only the
// rule that keeps the cache from feeding scanners of a shared log can
// deliver them.
func TestForeignRecordsReachTheWritersScanner(t *testing.T) {
	store := memory.NewStore()
	impl, _ := memory.NewBuilder(memory.WithStore(store)).Build()
	fo := newFaultyOpener(sharedLog{impl}, faults{}, 1)
	o := adaptor.NewOpener(memory.Name, fo, adaptor.WithWriteAheadCache(1<<20), adaptor.WithIdleRecheck(time.Hour))
	t.Cleanup(o.Close)
	interleaveForeign(t, o, fo, memoryForeignAppend(store))
}

// interleaveForeign stores m1 | f1 m2 | f2 m3 | f3 in a new channel of o,
// the m records through a ReadWrite WAL of o and the f records through
// foreign, and checks that a DeliverAll scanner of that WAL delivers each
// step's records before the next step, and a ReadOnly WAL's scanner all of
// them. o's driver is wrapped by fo, whose gate holds every driver scanner
// while a step stores its records: none reaches the scanner before the
// step's own append is in the write-ahead cache (were it on), and since the
// scanner delivers each step before the next, it has caught up with its
// WAL whenever a foreign record is stored.
func interleaveForeign(t *testing.T, o wal.Opener, fo *faultyOpener, foreign func(ctx context.Context, channel string, payload []byte) error) {
	t.Helper()
	fo.hold = newGate()
	ch := newChannel(t)
	w := open(t, o, ch, 1, wal.ReadWrite)
	ro := open(t, o, ch, 1, wal.ReadOnly)
	var scanners []wal.Scanner
	for _, x := range []wal.WAL{w, ro} {
		s, err := x.Read(context.Background(), wal.ReadOption{Name: x.Channel().AccessMode.String(), DeliverPolicy: wal.DeliverAll()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		scanners = append(scanners, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var all []string
	for _, step := range [][]string{{"m1"}, {"f1", "m2"}, {"f2", "m3"}, {"f3"}} {
		fo.hold.close()
		for _, p := range step {
			if p[0] == 'f' {
				if err := foreign(ctx, ch, []byte(p)); err != nil {
					t.Fatalf("foreign append %q: %v", p, err)
				}
			} else if _, err := w.Append(ctx, message.NewMutableMessage([]byte(p), nil)); err != nil {
				t.Fatalf("append %q: %v", p, err)
			}
		}
		fo.hold.release()
		expectPayloads(t, scanners[0], step...)
		all = append(all, step...)
	}
	expectPayloads(t, scanners[1], all...)
	for _, s := range scanners {
		expectNone(t, s, 50*time.Millisecond)
	}
}

// expectPayloads receives len(want) messages from s and checks their
// payloads in order.
func expectPayloads(t *testing.T, s wal.Scanner, want ...string) {
	t.Helper()
	for i, p := range want {
		if m := recv(t, s, 10*time.Second); string(m.Payload()) != p {
			t.Fatalf("scanner %q, message %d: %q, want %q (want %q in all)", s.Name(), i, m.Payload(), p, want)
		}
	}
}
