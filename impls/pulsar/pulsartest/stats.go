package pulsartest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The admin endpoint's read side of topics, as a real broker's web service
// answers it (PersistentTopics in /admin/v2), for what pulsartest keeps:
//
//	GET /admin/v2/persistent/{tenant}/{namespace}
//	GET /admin/v2/persistent/{tenant}/{namespace}/{topic}/stats
//	GET /admin/v2/persistent/{tenant}/{namespace}/{topic}/internalStats
//
// The topic list holds every topic of the namespace, partitions by their own
// names ("<topic>-partition-<i>"), not the partitioned names themselves;
// every namespace exists (a real broker answers 404 for one that does not).
// The two stats answer 404 for a topic the broker does not know. Only the
// fields below are served; a real broker's answers have more.

// topicStats is the part of a real broker's TopicStats that pulsartest
// serves: the retained bytes, the connected producers and the durable
// subscriptions' backlogs.
type topicStats struct {
	// StorageSize is the size of the retained entries (ledger.getTotalSize
	// on Pulsar 2.8 and later).
	StorageSize   int64                        `json:"storageSize"`
	Publishers    []publisherStats             `json:"publishers"`
	Subscriptions map[string]subscriptionStats `json:"subscriptions"`
}

// publisherStats is a connected producer.
type publisherStats struct {
	ProducerID   uint64 `json:"producerId"`
	ProducerName string `json:"producerName"`
	// AccessMode is "Shared" or "Exclusive" (WaitForExclusive and
	// ExclusiveWithFencing are served as Exclusive, see doc.go).
	AccessMode string `json:"accessMode"`
}

// subscriptionStats is a subscription: MsgBacklog counts the entries after
// its mark-delete position that are not acknowledged (entries, as a real
// broker's msgBacklog does without exposePreciseBacklogInPrometheus).
type subscriptionStats struct {
	MsgBacklog int64 `json:"msgBacklog"`
	IsDurable  bool  `json:"isDurable"`
}

// internalStats is the part of a real broker's PersistentTopicInternalStats
// (its managed ledger) that pulsartest serves. Positions are "ledger:entry".
type internalStats struct {
	// NumberOfEntries and TotalSize are the retained entries, in every
	// ledger, the current one included.
	NumberOfEntries int64 `json:"numberOfEntries"`
	TotalSize       int64 `json:"totalSize"`
	// CurrentLedgerEntries and CurrentLedgerSize are the current ledger's.
	CurrentLedgerEntries int64 `json:"currentLedgerEntries"`
	CurrentLedgerSize    int64 `json:"currentLedgerSize"`
	// LastConfirmedEntry is the newest entry stored, also when it was
	// trimmed (until the topic is loaded again), or "<current ledger>:-1"
	// for a topic that has stored none.
	LastConfirmedEntry string `json:"lastConfirmedEntry"`
	State              string `json:"state"` // "LedgerOpened"
	// Ledgers are the retained ledgers, oldest first, and the current one
	// last, whose Entries and Size stay 0 until it is closed, as on a real
	// broker (its ledgerInfo is filled in on close).
	Ledgers []ledgerInfo `json:"ledgers"`
	// Cursors are the durable subscriptions.
	Cursors map[string]cursorStats `json:"cursors"`
}

// ledgerInfo is one ledger of a topic.
type ledgerInfo struct {
	LedgerID  uint64 `json:"ledgerId"`
	Entries   int64  `json:"entries"`
	Size      int64  `json:"size"`
	Offloaded bool   `json:"offloaded"`
}

// cursorStats is a durable subscription's cursor: MarkDeletePosition is
// the last entry acknowledged with everything before it, "<ledger>:-1"
// when none is.
type cursorStats struct {
	MarkDeletePosition string `json:"markDeletePosition"`
}

func (b *Broker) handleTopicList(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("tenant") + "/" + r.PathValue("namespace")
	b.mu.Lock()
	names := []string{}
	for name := range b.topics {
		if strings.HasPrefix(name, "persistent://") && namespaceOf(name) == ns {
			names = append(names, name)
		}
	}
	b.mu.Unlock()
	slices.Sort(names)
	writeValue(w, names, true)
}

// handleTopicStats serves .../stats, or .../internalStats if internal.
func (b *Broker) handleTopicStats(internal bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		topic := "persistent://" + r.PathValue("tenant") + "/" + r.PathValue("namespace") + "/" + r.PathValue("topic")
		b.mu.Lock()
		defer b.mu.Unlock()
		t := b.topics[topic]
		switch {
		case t == nil:
			adminError(w, http.StatusNotFound, "Topic "+topic+" not found")
		case internal:
			writeValue(w, t.internalStatsLocked(), true)
		default:
			writeValue(w, t.statsLocked(), true)
		}
	}
}

// size is the number of bytes entries i..j-1 take.
func (t *topic) size(i, j int) int64 {
	var n int64
	for k := i; k < j; k++ {
		n += int64(len(t.at(k).data))
	}
	return n
}

func (t *topic) statsLocked() topicStats {
	st := topicStats{StorageSize: t.size(t.base, t.end()), Publishers: []publisherStats{}, Subscriptions: map[string]subscriptionStats{}}
	for p := range t.producers {
		mode := "Shared"
		if p.exclusive {
			mode = "Exclusive"
		}
		st.Publishers = append(st.Publishers, publisherStats{ProducerID: p.id, ProducerName: p.name, AccessMode: mode})
	}
	slices.SortFunc(st.Publishers, func(a, b publisherStats) int { return strings.Compare(a.ProducerName, b.ProducerName) })
	for name, s := range t.subs {
		var backlog int64
		for i := max(s.markDelete+1, t.base); i < t.end(); i++ {
			if !s.isAcked(i) {
				backlog++
			}
		}
		st.Subscriptions[name] = subscriptionStats{MsgBacklog: backlog, IsDurable: s.durable}
	}
	return st
}

func (t *topic) internalStatsLocked() internalStats {
	// A real broker opens a ledger when it loads a topic; pulsartest on
	// first use, which this is.
	_ = t.ensureLedger()
	st := internalStats{
		NumberOfEntries: int64(len(t.entries)),
		TotalSize:       t.size(t.base, t.end()),
		State:           "LedgerOpened",
		Ledgers:         []ledgerInfo{},
		Cursors:         map[string]cursorStats{},
	}
	for i := t.base; i < t.end(); {
		l := t.at(i).ledger
		j := i
		for j < t.end() && t.at(j).ledger == l {
			j++
		}
		if l == t.ledger {
			st.CurrentLedgerEntries, st.CurrentLedgerSize = int64(j-i), t.size(i, j)
			break
		}
		st.Ledgers = append(st.Ledgers, ledgerInfo{LedgerID: l, Entries: int64(j - i), Size: t.size(i, j)})
		i = j
	}
	st.Ledgers = append(st.Ledgers, ledgerInfo{LedgerID: t.ledger})
	st.LastConfirmedEntry = fmt.Sprintf("%d:-1", t.ledger)
	if t.hasLast {
		st.LastConfirmedEntry = fmt.Sprintf("%d:%d", t.last.ledger, t.last.entry)
	}
	for name, s := range t.subs {
		if !s.durable {
			continue
		}
		id := s.markDeleteIDData()
		st.Cursors[name] = cursorStats{MarkDeletePosition: fmt.Sprintf("%d:%d", id.GetLedgerId(), int64(id.GetEntryId()))}
	}
	return st
}
