package pulsar

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/walimpls"
)

var (
	_ walimpls.StatReader    = (*wal)(nil)
	_ walimpls.ChannelLister = (*opener)(nil)
)

// Stat implements walimpls.StatReader. What it asks, and of whom:
//   - Last: the broker's last message id (GET_LAST_MESSAGE_ID), as LatestID.
//   - First: the first message a reader from the earliest position gets,
//     which is where DeliverAll starts. The broker deletes whole closed
//     ledgers that the truncation subscription acknowledged, and only once
//     the retention policy lets them go, so First is the first entry of the
//     oldest ledger kept: at or before the truncation point, never after.
//     No client call reports it without reading, so Stat reads that one
//     message.
//   - Term: the highest term among the last recoverWindow+1 entries, which
//     a new writer reads at Open too (every message of the driver carries
//     its writer's term); Unknown if none of them is the driver's.
//   - Messages and Bytes: with WithAdminURL, the topic's internal stats
//     (numberOfEntries and totalSize of the retained ledgers, the current
//     one included); Unknown without. An entry is a message for everything
//     the driver writes (batching off); a batch of another client counts
//     once.
//   - Writer: WriterHeld when a ReadWrite WAL of this opener with Term is
//     open and not fenced; otherwise, with WithAdminURL, whether the topic
//     has a producer named "mqwal-writer" (topic stats; it is exclusive);
//     otherwise WriterUnknown.
//
// With WithAdminURL a topic whose every ledger was deleted (the broker
// still reports the last entry) has nil First and Last; without it Stat
// waits for the first message up to the operation timeout and fails with
// ErrUnavailable.
func (w *wal) Stat(ctx context.Context) (walimpls.ChannelStat, error) {
	if err := w.CheckRead(ctx, walimpls.ReadOption{}); err != nil {
		return walimpls.ChannelStat{}, err
	}
	st := walimpls.ChannelStat{
		Channel:     w.Channel().Name,
		BackendName: w.topic,
		Messages:    walimpls.Unknown,
		Bytes:       walimpls.Unknown,
		Term:        walimpls.Unknown,
	}
	retained := true
	if w.o.admin != nil {
		is, err := w.o.adminGet(ctx, "stat", w.topic, "internalStats")
		if err != nil {
			return walimpls.ChannelStat{}, err
		}
		st.Messages, st.Bytes = is.NumberOfEntries, is.TotalSize
		retained = is.NumberOfEntries > 0
	}
	var last ID
	var nonEmpty bool
	if err := w.runCtx(ctx, "stat", func() (err error) { last, nonEmpty, err = lastPosition(w.o, w.topic); return err }); err != nil {
		return walimpls.ChannelStat{}, err
	}
	if nonEmpty && retained {
		first, err := w.first(ctx, last)
		if err != nil {
			return walimpls.ChannelStat{}, err
		}
		st.First, st.Last = first, last
		t := tail{last: last, nonEmpty: true, maxSeq: -1, maxTerm: -1}
		err = runCtx(ctx, "stat", w.topic, func() error {
			ctx, cancel := context.WithTimeout(ctx, w.o.cfg.operationTimeout)
			defer cancel()
			return t.scanWindow(ctx, w.o, w.topic)
		})
		if err != nil {
			return walimpls.ChannelStat{}, err
		}
		if t.maxTerm >= 0 {
			st.Term = t.maxTerm
		}
	} else if st.Messages != walimpls.Unknown {
		st.Messages = 0
	}
	var err error
	st.Writer, err = w.o.writerState(ctx, w.topic, st.Term)
	return st, err
}

// first returns the position of the first retained message, the topic
// being known to hold last.
func (w *wal) first(parent context.Context, last ID) (ID, error) {
	ctx, cancel := context.WithTimeout(parent, w.o.cfg.operationTimeout)
	defer cancel()
	var first ID
	err := w.runCtx(ctx, "stat", func() error {
		r, err := w.o.client.CreateReader(pc.ReaderOptions{Topic: w.topic, StartMessageID: pc.EarliestMessageID(), ReceiverQueueSize: 1})
		if err != nil {
			return err
		}
		defer closeReader(r)
		m, err := r.Next(ctx)
		if err != nil {
			return err
		}
		first = idOf(m.ID())
		return nil
	})
	if err != nil && parent.Err() == nil && ctx.Err() != nil {
		return ID{}, fmt.Errorf("%w: pulsar: stat %s: the broker reports %v as the last entry but sent no message from the earliest position within %v: the broker is slow, or deleted every ledger (WithAdminURL lets Stat tell): %w",
			walimpls.ErrUnavailable, w.topic, last, w.o.cfg.operationTimeout, err)
	}
	if err != nil {
		return ID{}, err // the call may go on in the background: first is not to be read
	}
	return first, nil
}

// writerState says whether a ReadWrite WAL of term holds topic (see Stat).
func (o *opener) writerState(ctx context.Context, topic string, term int64) (walimpls.WriterState, error) {
	for _, wr := range o.writersOf(topic) {
		if wr.term == term && wr.live() {
			return walimpls.WriterHeld, nil
		}
	}
	if o.admin == nil {
		return walimpls.WriterUnknown, nil
	}
	ts, err := o.adminGet(ctx, "stat", topic, "stats")
	if err != nil {
		return walimpls.WriterUnknown, err
	}
	for _, p := range ts.Publishers {
		if p.ProducerName == producerName {
			return walimpls.WriterHeld, nil
		}
	}
	return walimpls.WriterNone, nil
}

// live reports whether w is open and not fenced.
func (w *writer) live() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.closed && w.fenced == nil
}

// topicStats is what Stat reads of a topic's admin stats: internalStats
// (PersistentTopicInternalStats: the managed ledger) and stats
// (TopicStats: the producers), the fields of both in one.
type topicStats struct {
	NumberOfEntries int64 `json:"numberOfEntries"`
	TotalSize       int64 `json:"totalSize"`
	Publishers      []struct {
		ProducerName string `json:"producerName"`
	} `json:"publishers"`
}

// adminGet reads GET /admin/v2/persistent/<topic>/<what>, bounded by the
// operation timeout.
func (o *opener) adminGet(ctx context.Context, op, topic, what string) (topicStats, error) {
	var ts topicStats
	err := o.adminRead(ctx, op, topic, "/admin/v2/persistent/"+strings.TrimPrefix(topic, "persistent://")+"/"+what, &ts)
	return ts, err
}

// adminRead decodes the answer of the admin request path into v, bounded
// by the operation timeout. Errors name op and what: ctx's, ErrNotFound for
// a 404, else ErrUnavailable naming the admin URL.
func (o *opener) adminRead(ctx context.Context, op, what, path string, v any) error {
	actx, cancel := context.WithTimeout(ctx, o.cfg.operationTimeout)
	defer cancel()
	_, err := o.admin.get(actx, path, v)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("pulsar: %s %s: %w", op, what, ctx.Err())
	case hasStatus(err, http.StatusNotFound):
		return fmt.Errorf("%w: pulsar: %s %s: the admin service at %s: %w", walimpls.ErrNotFound, op, what, o.cfg.adminURL, err)
	}
	return fmt.Errorf("%w: pulsar: %s %s: the admin service at %s: %w", walimpls.ErrUnavailable, op, what, o.cfg.adminURL, err)
}

// ListChannels implements walimpls.ChannelLister: the persistent topics of
// the namespace whose local name is the topic prefix and a valid channel
// name (so neither the control topic nor partitions), sorted. With
// WithAdminURL it asks the admin service for the namespace's topics (GET
// /admin/v2/persistent/{tenant}/{namespace}); without, a non-durable pattern
// subscription does, as a ReadOnly Open's existence check (which costs a
// subscription to each of the topics). Another client's topic with the
// prefix is listed too: the broker does not know which are mqwal's.
func (o *opener) ListChannels(ctx context.Context) ([]string, error) {
	if err := o.wals.Check("pulsar opener"); err != nil {
		return nil, err
	}
	ns := o.cfg.tenant + "/" + o.cfg.namespace
	var topics []string
	if o.admin != nil {
		if err := o.adminRead(ctx, "list the topics of namespace", ns, "/admin/v2/persistent/"+ns, &topics); err != nil {
			return nil, err
		}
	} else {
		if err := o.probe(ctx); err != nil {
			return nil, err
		}
		var err error
		if topics, err = o.matchTopics(ctx, "list the topics of namespace", ns, "persistent://"+ns+"/"+regexp.QuoteMeta(o.cfg.topicPrefix)+".*"); err != nil {
			return nil, err
		}
	}
	return channelsOf(topics, o.cfg.topic("")), nil
}

// channelsOf returns the channel names of the topics that start with
// prefix (persistent://tenant/namespace/<topic prefix>), sorted, once each.
func channelsOf(topics []string, prefix string) []string {
	var names []string
	for _, t := range topics {
		name, ok := strings.CutPrefix(t, prefix)
		if !ok || strings.Contains(name, partitionInfix) || (walimpls.Channel{Name: name, AccessMode: walimpls.ReadOnly}).Validate() != nil {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}
