package kafka

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/message"
	mqwal "github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// Topics shared with other clients, tried with franz-go kgo as the other
// client: its transactions, its reserved-looking headers, its keys.

// path is how a test reaches the driver: bare, or through the adaptor.
type path struct {
	name      string
	newOpener func(t testing.TB, c *kafkatest.Cluster) walimpls.OpenerImpls
}

var paths = []path{
	{"driver", func(t testing.TB, c *kafkatest.Cluster) walimpls.OpenerImpls { return newOpener(t, c) }},
	{"adaptor", func(t testing.TB, c *kafkatest.Cluster) walimpls.OpenerImpls {
		o := adaptedOpener{adaptor.NewOpener(Name, newOpener(t, c))}
		t.Cleanup(o.Close)
		return o
	}},
}

// adaptedOpener shows an adaptor opener (wal API) as a driver opener, so
// one test body covers both paths. The adaptor's scanners have the
// driver's scanner methods.
type adaptedOpener struct{ o mqwal.Opener }

func (a adaptedOpener) Capabilities() walimpls.Capabilities { return a.o.Capabilities() }
func (a adaptedOpener) Close()                              { a.o.Close() }
func (a adaptedOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	w, err := a.o.Open(ctx, &mqwal.OpenOption{Channel: opt.Channel})
	if err != nil {
		return nil, err
	}
	return adaptedWAL{w}, nil
}

type adaptedWAL struct{ mqwal.WAL }

func (a adaptedWAL) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	res, err := a.WAL.Append(ctx, msg)
	if err != nil {
		return nil, err
	}
	return res.MessageID, nil
}

func (a adaptedWAL) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	return a.WAL.Read(ctx, mqwal.ReadOption{Name: opt.Name, DeliverPolicy: opt.DeliverPolicy, ReadAheadBufferSize: opt.ReadAheadBufferSize})
}

// kgoClient is another client of the cluster; DefaultProduceTopic is topic.
func kgoClient(t testing.TB, c *kafkatest.Cluster, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Addrs()...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(t testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	if err := produceSync(cl, recs...); err != nil {
		t.Fatalf("kgo produce: %v", err)
	}
}

// produceSync produces recs and waits for them, for at most 10 s.
func produceSync(cl *kgo.Client, recs ...*kgo.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

func value(s string) *kgo.Record { return &kgo.Record{Value: []byte(s)} }

// txn runs one transaction of cl: begin, produce, then commit or abort.
func txn(t testing.TB, cl *kgo.Client, commit bool, payloads ...string) {
	t.Helper()
	beginWith(t, cl, payloads...)
	end(t, cl, commit)
}

// beginWith begins a transaction of cl and produces payloads in it. kgo's
// first produce of a transaction sometimes gets OUT_OF_ORDER_SEQUENCE_NUMBER
// from kfake when the machine is loaded (1 run in ~40 under -race with
// other tests running; not mqwal's producer, which has an id of its own):
// then the transaction is aborted, which a read_committed reader never
// sees, and begun again, up to 3 times.
func beginWith(t testing.TB, cl *kgo.Client, payloads ...string) {
	t.Helper()
	for try := 1; ; try++ {
		begin(t, cl)
		var err error
		for _, p := range payloads {
			if err = produceSync(cl, value(p)); err != nil {
				break
			}
		}
		if err == nil {
			return
		}
		if try == 3 || !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
			t.Fatalf("kgo produce: %v", err)
		}
		t.Logf("kgo produce: %v; aborting the transaction and beginning it again", err)
		end(t, cl, false)
	}
}

func begin(t testing.TB, cl *kgo.Client) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
}

func end(t testing.TB, cl *kgo.Client, commit bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("EndTransaction(commit %v): %v", commit, err)
	}
}

func payloads(msgs []message.ImmutableMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Payload())
	}
	return out
}

// expectPayloads reads from s until it has len(want) messages, fails on a
// different payload, then expects quiet for a moment.
func expectPayloads(t testing.TB, s walimpls.ScannerImpls, want ...string) []message.ImmutableMessage {
	t.Helper()
	var got []message.ImmutableMessage
	deadline := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				t.Fatalf("scanner ended (%v) after %q, want %q", s.Error(), payloads(got), want)
			}
			got = append(got, m)
			if i := len(got) - 1; string(m.Payload()) != want[i] {
				t.Fatalf("delivered %q, want %q", payloads(got), want)
			}
		case <-deadline:
			t.Fatalf("delivered %q within 10s, want %q", payloads(got), want)
		}
	}
	select {
	case m, ok := <-s.Chan():
		if ok {
			t.Fatalf("after %q, also delivered %q at %v", want, m.Payload(), m.MessageID())
		}
		t.Fatalf("scanner ended after %q: %v", want, s.Error())
	case <-time.After(300 * time.Millisecond):
	}
	return got
}

func read(t testing.TB, w walimpls.ROWALImpls, p walimpls.DeliverPolicy) walimpls.ScannerImpls {
	t.Helper()
	s, err := w.Read(context.Background(), walimpls.ReadOption{DeliverPolicy: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sharedChannel is a channel of a fresh cluster opened ReadWrite with term
// through p, for tests that add another client.
type sharedChannel struct {
	c  *kafkatest.Cluster
	o  walimpls.OpenerImpls
	ch string
	w  walimpls.WALImpls
}

func newSharedChannel(t *testing.T, p path, term int64) sharedChannel {
	c := startCluster(t)
	o := p.newOpener(t, c)
	ch := channelName(t)
	return sharedChannel{c: c, o: o, ch: ch, w: open(t, o, ch, term, walimpls.ReadWrite)}
}

// tail is a DeliverAll scanner of a ReadOnly WAL, which reads the backend
// all along (see DESIGN.md, Sharing topics, on the adaptor's cache).
func (s sharedChannel) tail(t *testing.T) (walimpls.ROWALImpls, walimpls.ScannerImpls) {
	ro := open(t, s.o, s.ch, 0, walimpls.ReadOnly)
	return ro, read(t, ro, walimpls.DeliverAll())
}

// TestOtherClientsTransactions: a transactional kgo producer commits two
// transactions, aborts one and leaves one open while mqwal appends in
// between. Scans deliver what a read_committed consumer sees: no control
// record, no aborted record, an open transaction's records (and what
// follows them) only once it commits. Before, control records came back
// as 6-byte messages and the aborted record too.
func TestOtherClientsTransactions(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			sc := newSharedChannel(t, p, 1)
			c, ch, w := sc.c, sc.ch, sc.w
			ro, tail := sc.tail(t)
			cl := kgoClient(t, c, ch, kgo.TransactionalID(ch+"-txn"))

			mustAppend(t, w, "m1", nil)
			beginWith(t, cl, "c1")
			mustAppend(t, w, "m2", nil)
			end(t, cl, true)
			txn(t, cl, false, "a1", "a2")
			mustAppend(t, w, "m3", nil)
			txn(t, cl, true, "c2")
			expectPayloads(t, tail, "m1", "c1", "m2", "m3", "c2")

			// An open transaction holds back what follows it.
			beginWith(t, cl, "o1")
			mustAppend(t, w, "m4", nil)
			expectPayloads(t, tail)
			end(t, cl, true)
			expectPayloads(t, tail, "o1", "m4")

			all := []string{"m1", "c1", "m2", "m3", "c2", "o1", "m4"}
			for _, r := range []walimpls.ROWALImpls{w, ro} {
				got := expectPayloads(t, read(t, r, walimpls.DeliverAll()), all...)
				if ids := offsets(got); !slices.IsSorted(ids) {
					t.Fatalf("IDs %v not increasing", ids)
				}
			}
		})
	}
}

// TestOtherClientsTransactionsAcrossRestart: transactions open while the
// cluster restarts are delivered exactly when the broker reports them
// committed (one is committed after the restart, one aborted); a scanner
// tailing across the restart sees the committed transactions and mqwal's
// appends on both sides of it, once each.
func TestOtherClientsTransactionsAcrossRestart(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			sc := newSharedChannel(t, p, 1)
			c, ch, w := sc.c, sc.ch, sc.w
			_, tail := sc.tail(t)
			commits := kgoClient(t, c, ch, kgo.TransactionalID(ch+"-commits"))
			aborts := kgoClient(t, c, ch, kgo.TransactionalID(ch+"-aborts"))

			mustAppend(t, w, "m1", nil)
			txn(t, commits, true, "c1")
			txn(t, aborts, false, "a1")
			begin(t, commits)
			produce(t, commits, value("committed after the restart"))
			begin(t, aborts)
			produce(t, aborts, value("aborted after the restart"))
			expectPayloads(t, tail, "m1", "c1")

			if err := c.Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := []string{"m1", "c1"}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := commits.EndTransaction(ctx, kgo.TryCommit)
			if err == nil {
				want = append(want, "committed after the restart")
			}
			t.Logf("commit of a transaction open across the restart: %v", err)
			if err := aborts.EndTransaction(ctx, kgo.TryAbort); err != nil {
				t.Logf("abort of a transaction open across the restart: %v", err)
			}
			mustAppend(t, w, "m2", nil)
			txn(t, kgoClient(t, c, ch, kgo.TransactionalID(ch+"-after")), true, "c2")
			mustAppend(t, w, "m3", nil)
			want = append(want, "m2", "c2", "m3")
			expectPayloads(t, tail, want[2:]...)
			expectPayloads(t, read(t, w, walimpls.DeliverAll()), want...)
		})
	}
}

// TestForeignReservedHeaders: records of another client that carry mqwal's
// reserved headers (the adaptor's term and fence, the driver's fence)
// between acknowledged appends neither hide an append nor act as a fence.
// They are delivered with those headers renamed under
// ForeignPropertyPrefix. Before, a foreign _mqwal.term=99 made the
// adaptor drop every later append of term 2 (its read fence rose at a
// message's term then), a foreign _mqwal.fence=50 does the same with
// today's adaptor (its floor rises at fence records), and a foreign
// _mqwal.kafka.fence record was skipped silently.
func TestForeignReservedHeaders(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			sc := newSharedChannel(t, p, 2)
			o, ch, w := sc.o, sc.ch, sc.w
			cl := kgoClient(t, sc.c, ch)
			foreign := func(payload, header, v string) {
				produce(t, cl, &kgo.Record{Value: []byte(payload), Headers: []kgo.RecordHeader{{Key: header, Value: []byte(v)}}})
			}
			mustAppend(t, w, "before", nil)
			foreign("foreign term", "_mqwal.term", "99")
			mustAppend(t, w, "after term", nil)
			foreign("foreign fence", "_mqwal.fence", "50")
			mustAppend(t, w, "after fence", nil)
			foreign("foreign driver fence", fenceHeader, "50")
			mustAppend(t, w, "after driver fence", map[string]string{"u": "1"})
			msgs := expectPayloads(t, read(t, w, walimpls.DeliverAll()),
				"before", "foreign term", "after term", "foreign fence", "after fence", "foreign driver fence", "after driver fence")
			for i, name := range map[int]string{1: "_mqwal.term", 3: "_mqwal.fence", 5: fenceHeader} {
				if got := msgs[i].Properties(); len(got) != 1 || got[ForeignPropertyPrefix+name] == "" {
					t.Errorf("%q delivered with %v, want only %s", msgs[i].Payload(), got, ForeignPropertyPrefix+name)
				}
			}
			if got := msgs[6].Properties()["u"]; got != "1" {
				t.Errorf("own record lost its property: %v", msgs[6].Properties())
			}
			// A lower-term writer is still fenced: the foreign term fenced nothing.
			_, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1}})
			if !errors.Is(err, walimpls.ErrFenced) {
				t.Fatalf("Open with term 1 after term 2: %v, want ErrFenced", err)
			}
		})
	}
}

// TestKeysAndRepeatedHeaders: PropertyKey on Append becomes the record
// key (what keyed consumers and compaction see); a record's key comes back
// as PropertyKey; a repeated header name keeps every value.
func TestKeysAndRepeatedHeaders(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	ch := channelName(t)
	w := open(t, o, ch, 1, walimpls.ReadWrite)
	keyed := mustAppend(t, w, "keyed", message.Properties{PropertyKey: "order-7", "h": "v"})
	mustAppend(t, w, "empty key", message.Properties{PropertyKey: ""})

	// What another client sees.
	cl := kgoClient(t, c, ch, kgo.ConsumeTopics(ch), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < 4 { // two fence records, then the two appends
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("kgo read %d records: %v", len(recs), err)
		}
		recs = append(recs, fs.Records()...)
	}
	r := recs[2]
	if r.Offset != keyed || string(r.Key) != "order-7" || len(r.Headers) != 1 || r.Headers[0].Key != "h" {
		t.Fatalf("kgo sees the keyed append as key %q headers %v at %d", r.Key, r.Headers, r.Offset)
	}
	if r := recs[3]; r.Key == nil || len(r.Key) != 0 || len(r.Headers) != 0 {
		t.Fatalf("kgo sees the empty-key append as key %v headers %v", r.Key, r.Headers)
	}

	hdr := func(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }
	produce(t, cl,
		&kgo.Record{Key: []byte("k1"), Value: []byte("foreign keyed")},
		&kgo.Record{Value: []byte("repeated"), Headers: []kgo.RecordHeader{hdr("a", "1"), hdr("b", "x"), hdr("a", "2"), hdr("a", "3")}},
		&kgo.Record{Key: []byte("k2"), Value: []byte("key and key header"), Headers: []kgo.RecordHeader{hdr(PropertyKey, "header")}},
	)
	msgs := readN(t, w, walimpls.DeliverAll(), 5)
	for i, want := range []message.Properties{
		{PropertyKey: "order-7", "h": "v"},
		{PropertyKey: ""},
		{PropertyKey: "k1"},
		{"a": "3", RepeatedPropertyPrefix + "1.a": "1", RepeatedPropertyPrefix + "2.a": "2", "b": "x"},
		{PropertyKey: "k2", RepeatedPropertyPrefix + "1." + PropertyKey: "header"},
	} {
		if got := msgs[i].Properties(); !maps.Equal(got, want) {
			t.Errorf("message %d (%q): properties %v, want %v", i, msgs[i].Payload(), got, want)
		}
	}
}

// TestAppendRefusesDriverReservedProperties: a message carrying the
// driver's fence header would be acknowledged and then skipped by every
// scanner; the driver refuses its reserved prefix (the adaptor refuses
// every reserved name before that).
func TestAppendRefusesDriverReservedProperties(t *testing.T) {
	c := startCluster(t)
	w := open(t, newOpener(t, c), channelName(t), 1, walimpls.ReadWrite)
	for _, k := range []string{fenceHeader, nonceHeader, ForeignPropertyPrefix + "x", RepeatedPropertyPrefix + "1.a"} {
		_, err := w.Append(context.Background(), message.NewMutableMessage([]byte("x"), message.Properties{k: "1"}))
		if !errors.Is(err, walimpls.ErrInvalidArgument) {
			t.Errorf("Append with property %q: %v, want ErrInvalidArgument", k, err)
		}
	}
	mustAppend(t, w, "ok", message.Properties{"_mqwal.term": "1"})
	if msgs := readN(t, w, walimpls.DeliverAll(), 1); string(msgs[0].Payload()) != "ok" {
		t.Fatalf("read %q", msgs[0].Payload())
	}
}

// TestMultiPartitionTopicIsRefused: a channel whose topic has several
// partitions does not open, in either mode, through either path. Before,
// it opened and scans delivered partition 0 only (3 of 9 records).
func TestMultiPartitionTopicIsRefused(t *testing.T) {
	c := startCluster(t)
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			o := p.newOpener(t, c)
			ch := channelName(t)
			if err := c.Kfake().CreateTopic(ch, 3, map[string]string{"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}); err != nil {
				t.Fatal(err)
			}
			for _, mode := range []walimpls.AccessMode{walimpls.ReadWrite, walimpls.ReadOnly} {
				w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, Term: 1, AccessMode: mode}})
				if err == nil {
					w.Close()
				}
				if !errors.Is(err, walimpls.ErrInvalidArgument) || !strings.Contains(err.Error(), `"`+ch+`"`) || !strings.Contains(err.Error(), "3 partitions") {
					t.Errorf("Open %v of a 3-partition topic: %v, want ErrInvalidArgument naming the topic and its 3 partitions", mode, err)
				}
			}
		})
	}
}

// TestReadOnlyOpenNeverCreatesTheTopic: a ReadOnly open of a channel that
// does not exist fails with ErrNotFound and leaves no topic behind, even on
// a broker that creates topics on metadata requests (Kafka's default
// auto.create.topics.enable=true; segmentio's Conn asks for that when it
// looks up a leader). Before, a ReadOnly open created the topic.
func TestReadOnlyOpenNeverCreatesTheTopic(t *testing.T) {
	c := startCluster(t, kafkatest.WithKfakeOptions(kfake.AllowAutoTopicCreation()))
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			o := p.newOpener(t, c)
			ch := channelName(t)
			_, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: ch, AccessMode: walimpls.ReadOnly}})
			if !errors.Is(err, walimpls.ErrNotFound) || walimpls.IsRetryable(err) || !strings.Contains(err.Error(), ch) {
				t.Fatalf("ReadOnly Open of a missing channel: %v, want ErrNotFound naming it", err)
			}
			if c.LeaderFor(ch, 0) >= 0 {
				t.Fatalf("the ReadOnly Open created topic %s", ch)
			}
			// A ReadWrite open creates it; ReadOnly then opens and scans.
			w := open(t, o, ch, 1, walimpls.ReadWrite)
			mustAppend(t, w, "x", nil)
			readN(t, open(t, o, ch, 0, walimpls.ReadOnly), walimpls.DeliverAll(), 1)
		})
	}
}

// TestClaimBehindAnOpenTransaction: the channel producer's newest batch
// may follow another client's open transaction, past the last stable
// offset; a same-term Open still finds it (log lookups read
// uncommitted) and continues the sequence, and scanners deliver it once
// the transaction ends.
func TestClaimBehindAnOpenTransaction(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	ch := channelName(t)
	w := open(t, o, ch, 1, walimpls.ReadWrite)
	cl := kgoClient(t, c, ch, kgo.TransactionalID(ch+"-txn"))
	mustAppend(t, w, "m1", nil)
	begin(t, cl)
	produce(t, cl, value("o1"))
	mustAppend(t, w, "m2", nil)
	w.Close()
	w2 := open(t, newOpener(t, c), ch, 1, walimpls.ReadWrite)
	mustAppend(t, w2, "m3", nil)
	s := read(t, w2, walimpls.DeliverAll())
	expectPayloads(t, s, "m1")
	end(t, cl, true)
	expectPayloads(t, s, "o1", "m2", "m3")
}
