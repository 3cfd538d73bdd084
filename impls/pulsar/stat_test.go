package pulsar_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

func stat(t *testing.T, w walimpls.ROWALImpls) walimpls.ChannelStat {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := w.(walimpls.StatReader).Stat(ctx)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	return st
}

func sameID(a, b message.MessageID) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && a.EQ(b))
}

// firstDelivered is the ID of the first message a DeliverAll scanner
// delivers (claims are skipped, so it can come after Stat's First).
func firstDelivered(t *testing.T, w walimpls.ROWALImpls) message.MessageID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case m, ok := <-s.Chan():
		if !ok {
			t.Fatalf("scanner ended: %v", s.Error())
		}
		return m.MessageID()
	case <-ctx.Done():
		t.Fatal("DeliverAll delivered nothing")
	}
	return nil
}

// Stat through the writer, through another opener with the admin URL and
// through one without: the same range and term; counts and the writer only
// where the admin service tells them, until the writer closes.
func TestStatRangeTermAndWriter(t *testing.T) {
	b := startBroker(t)
	admin := pulsar.WithAdminURL(b.AdminURL())
	w, err := openChannel(t, b, "st", 3, walimpls.ReadWrite, admin)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]message.MessageID, 5)
	for i := range ids {
		ids[i] = mustAppend(t, w, "m", nil)
	}
	st := stat(t, w)
	claim := pulsar.NewID(ids[0].(pulsar.ID).Ledger, 0, 0) // the claim is the topic's first entry
	if st.Channel != "st" || st.BackendName != topicPrefix+"st" || !sameID(st.First, claim) || !sameID(st.Last, ids[4]) ||
		st.Messages != 6 || st.Bytes <= 0 || st.Term != 3 || st.Writer != walimpls.WriterHeld {
		t.Fatalf("Stat through the writer = %+v; want First %v (the claim), Last %v, 6 messages, term 3, held", st, claim, ids[4])
	}

	withAdmin := openWAL(t, b, "st", walimpls.ReadOnly, admin)
	if other := stat(t, withAdmin); other != st {
		t.Errorf("Stat through another opener with the admin URL = %+v, want %+v", other, st)
	}
	plain := openWAL(t, b, "st", walimpls.ReadOnly)
	want := st
	want.Messages, want.Bytes, want.Writer = walimpls.Unknown, walimpls.Unknown, walimpls.WriterUnknown
	if other := stat(t, plain); other != want {
		t.Errorf("Stat without the admin URL = %+v, want %+v", other, want)
	}

	w.Close()
	if got := stat(t, withAdmin).Writer; got != walimpls.WriterNone {
		t.Errorf("Stat after the writer closed: Writer %v, want none", got)
	}
	if got := stat(t, plain).Writer; got != walimpls.WriterUnknown {
		t.Errorf("Stat without the admin URL after the writer closed: Writer %v, want unknown", got)
	}
	if _, err := w.(walimpls.StatReader).Stat(context.Background()); !errors.Is(err, walimpls.ErrClosed) {
		t.Errorf("Stat of a closed WAL: %v, want ErrClosed", err)
	}
}

// First is where DeliverAll starts: the first entry of the oldest ledger
// the broker kept. Truncate lets the broker delete whole ledgers before the
// truncation point; the rest of the truncation point's ledger stays.
func TestStatFirstFollowsDeletedLedgers(t *testing.T) {
	b := startBroker(t)
	admin := pulsar.WithAdminURL(b.AdminURL())
	w := openWAL(t, b, "trim", walimpls.ReadWrite, admin)
	ids := appendN(t, w, 0, 3)
	b.RollLedgers()
	ids = append(ids, appendN(t, w, 3, 3)...)
	if l0, l1 := ids[0].(pulsar.ID).Ledger, ids[3].(pulsar.ID).Ledger; l1 <= l0 || ids[3].(pulsar.ID).Entry != 0 {
		t.Fatalf("no new ledger after RollLedgers: %v then %v", ids[0], ids[3])
	}
	before := stat(t, w)
	if before.First == nil || !before.First.LT(ids[0]) || before.Messages != 7 {
		t.Fatalf("Stat before Truncate = %+v, want First at the claim before %v and 7 messages", before, ids[0])
	}
	if err := w.Truncate(context.Background(), ids[4]); err != nil {
		t.Fatal(err)
	}
	after := stat(t, w)
	if !sameID(after.First, ids[3]) || !sameID(after.Last, ids[5]) || after.Messages != 3 || after.Bytes >= before.Bytes {
		t.Fatalf("Stat after Truncate(%v) = %+v, want First %v (the first ledger deleted), Last %v, 3 messages, fewer bytes than %d",
			ids[4], after, ids[3], ids[5], before.Bytes)
	}
	if got := firstDelivered(t, w); !sameID(got, after.First) {
		t.Errorf("DeliverAll starts at %v, Stat's First is %v", got, after.First)
	}
	plain := openWAL(t, b, "trim", walimpls.ReadOnly)
	if got := stat(t, plain); !sameID(got.First, ids[3]) || !sameID(got.Last, ids[5]) || got.Term != 1 {
		t.Errorf("Stat without the admin URL = %+v, want %v..%v, term 1", got, ids[3], ids[5])
	}
}

// A topic whose every ledger was deleted (here: another client's topic
// without a durable subscription, after a ledger rollover) still reports
// its last entry; with the admin URL Stat tells that nothing is retained,
// without it Stat fails after the operation timeout instead of guessing.
// Another client's messages carry no term.
func TestStatEverythingDeleted(t *testing.T) {
	b := startBroker(t)
	c := rawClient(t, b)
	p := rawProducer(t, c, topicPrefix+"gone", false)
	for range 2 {
		if _, err := p.Send(context.Background(), &pc.ProducerMessage{Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	kept := stat(t, openWAL(t, b, "gone", walimpls.ReadOnly))
	if kept.First == nil || kept.Last == nil || kept.Term != walimpls.Unknown {
		t.Fatalf("Stat of another client's topic = %+v, want a range and an unknown term", kept)
	}
	b.RollLedgers()
	withAdmin := openWAL(t, b, "gone", walimpls.ReadOnly, pulsar.WithAdminURL(b.AdminURL()))
	if st := stat(t, withAdmin); st.First != nil || st.Last != nil || st.Messages != 0 || st.Bytes != 0 {
		t.Errorf("Stat with the admin URL of a topic with nothing retained = %+v, want no range and 0 messages", st)
	}
	plain := openWAL(t, b, "gone", walimpls.ReadOnly, pulsar.WithOperationTimeout(300*time.Millisecond))
	_, err := plain.(walimpls.StatReader).Stat(context.Background())
	if !errors.Is(err, walimpls.ErrUnavailable) || !strings.Contains(err.Error(), "WithAdminURL lets Stat tell") {
		t.Errorf("Stat without the admin URL of a topic with nothing retained: %v, want ErrUnavailable saying why", err)
	}
}

// A writer of this opener that a higher term fenced does not hold the
// channel; the higher term does, as the admin service tells.
func TestStatAfterHandOver(t *testing.T) {
	b := startBroker(t)
	admin := pulsar.WithAdminURL(b.AdminURL())
	old, err := openChannel(t, b, "handover", 1, walimpls.ReadWrite, admin)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, old, "a", nil)
	next, err := openChannel(t, b, "handover", 2, walimpls.ReadWrite, admin)
	if err != nil {
		t.Fatal(err)
	}
	last := mustAppend(t, next, "b", nil)
	if st := stat(t, old); st.Term != 2 || st.Writer != walimpls.WriterHeld || !sameID(st.Last, last) {
		t.Errorf("Stat through the fenced writer = %+v, want term 2 held, last %v", st, last)
	}
	next.Close()
	if st := stat(t, old); st.Term != 2 || st.Writer != walimpls.WriterNone {
		t.Errorf("Stat through the fenced writer after term 2 closed = %+v, want term 2, no writer", st)
	}
}

// ListChannels names the topics of the namespace with the prefix that are
// channels (not the control topic, not partitions), sorted, through the
// admin service and without it.
func TestListChannels(t *testing.T) {
	b := startBroker(t)
	if err := b.CreatePartitionedTopic(topicPrefix+"lst-part", 2); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{"b", "a", "c.d"} {
		openWAL(t, b, ch, walimpls.ReadWrite, pulsar.WithTopicPrefix("lst-"))
	}
	openWAL(t, b, "z", walimpls.ReadWrite) // no prefix
	if _, err := openChannel(t, b, "never", 0, walimpls.ReadOnly, pulsar.WithTopicPrefix("lst-")); !errors.Is(err, walimpls.ErrNotFound) {
		t.Fatalf("ReadOnly Open of a missing channel: %v", err)
	}
	for _, c := range []struct {
		name string
		opts []pulsar.Option
		want []string
	}{
		{"prefix/admin", []pulsar.Option{pulsar.WithTopicPrefix("lst-"), pulsar.WithAdminURL(b.AdminURL())}, []string{"a", "b", "c.d"}},
		{"prefix/pattern", []pulsar.Option{pulsar.WithTopicPrefix("lst-")}, []string{"a", "b", "c.d"}},
		{"all/admin", []pulsar.Option{pulsar.WithAdminURL(b.AdminURL())}, []string{"lst-a", "lst-b", "lst-c.d", "z"}},
		{"all/pattern", nil, []string{"lst-a", "lst-b", "lst-c.d", "z"}},
		{"other namespace", []pulsar.Option{pulsar.WithNamespace("empty"), pulsar.WithAdminURL(b.AdminURL())}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := builder(b, c.opts...).Build()
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			got, err := o.(walimpls.ChannelLister).ListChannels(context.Background())
			if err != nil || !slices.Equal(got, c.want) {
				t.Fatalf("ListChannels = %q, %v; want %q", got, err, c.want)
			}
			o.Close()
			if _, err := o.(walimpls.ChannelLister).ListChannels(context.Background()); !errors.Is(err, walimpls.ErrClosed) {
				t.Fatalf("ListChannels after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// A broker redirects a topic's admin request to the topic's owner, another
// host: the token goes along (Go's client would drop it), and an admin
// service that fails is ErrUnavailable naming it.
func TestAdminRedirectKeepsToken(t *testing.T) {
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"reason":"no token"}`, http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`["persistent://public/default/x"]`))
	}))
	defer owner.Close()
	// Another host name for the same address: Go keeps the header only
	// for the same host or its subdomains.
	ownerURL := strings.Replace(owner.URL, "127.0.0.1", "localhost", 1)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, ownerURL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer front.Close()
	o, err := pulsar.NewBuilder(pulsar.WithURL("pulsar://127.0.0.1:1"), pulsar.WithAdminURL(front.URL), pulsar.WithAuthToken("tok")).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	got, err := o.(walimpls.ChannelLister).ListChannels(context.Background())
	if err != nil || !slices.Equal(got, []string{"x"}) {
		t.Fatalf("ListChannels through a redirect = %q, %v", got, err)
	}
	owner.Close()
	if _, err := o.(walimpls.ChannelLister).ListChannels(context.Background()); !errors.Is(err, walimpls.ErrUnavailable) || !strings.Contains(err.Error(), front.URL) {
		t.Fatalf("ListChannels with the admin service down: %v, want ErrUnavailable naming %s", err, front.URL)
	}
}
