package pulsartest

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// What a real broker deletes, and when (Pulsar 2.x to 4.x, ManagedLedgerImpl
// and PersistentTopic):
//   - A topic is a list of ledgers. A ledger is closed ("rolled over") when
//     it is full (managedLedgerMaxEntriesPerLedger, 50,000 entries after at
//     least managedLedgerMinLedgerRolloverTimeMinutes), after
//     managedLedgerMaxLedgerRolloverTimeMinutes, and whenever the topic is
//     loaded (broker restart, bundle unload): a loaded topic writes to a new
//     ledger.
//   - Trimming deletes whole closed ledgers, oldest first, that every
//     durable subscription has acknowledged completely. Readers
//     (non-durable cursors) protect nothing, and a topic without a durable
//     subscription has every closed ledger "consumed". The current ledger is
//     never deleted. The retention policy (retention time, retention size;
//     default 0 and 0) keeps consumed ledgers until the time passed or the
//     size is exceeded; -1 means for ever. Trimming runs when a ledger is
//     closed, when the slowest subscription moves, and every
//     retentionCheckIntervalInSeconds (120 s).
//   - Message TTL (messageTTL policy, ttlDurationDefaultInSeconds) moves
//     every subscription's cursor past the messages published longer ago
//     than the TTL (every messageExpiryCheckIntervalInMinutes, 5 min);
//     trimming then deletes them.
//   - A backlog quota with policy consumer_backlog_eviction moves the
//     slowest subscriptions' cursors forward until the backlog is within the
//     size limit (destination_storage) or no older than the time limit
//     (message_age), every backlogQuotaCheckIntervalInSeconds (60 s).
//
// pulsartest does the same, with the periodic part done by Housekeep.

// Retention is a retention policy: consumed ledgers are kept until they are
// older than TimeInMinutes or the topic is larger than SizeInMB. -1 keeps
// for ever; 0 (the default) deletes consumed ledgers at once.
type Retention struct {
	TimeInMinutes int   `json:"retentionTimeInMinutes"`
	SizeInMB      int64 `json:"retentionSizeInMB"`
}

// BacklogQuotaType names a backlog quota: DestinationStorage limits the
// backlog's size, MessageAge the age of its oldest message.
type BacklogQuotaType string

// The backlog quota types of a real broker.
const (
	DestinationStorage BacklogQuotaType = "destination_storage"
	MessageAge         BacklogQuotaType = "message_age"
)

// BacklogQuotaPolicy is what a broker does when a backlog exceeds its quota.
type BacklogQuotaPolicy string

// The policies of a real broker. pulsartest enforces ConsumerBacklogEviction
// only; the other two (producers held or refused) are reported by the admin
// endpoint and not applied.
const (
	ProducerRequestHold     BacklogQuotaPolicy = "producer_request_hold"
	ProducerException       BacklogQuotaPolicy = "producer_exception"
	ConsumerBacklogEviction BacklogQuotaPolicy = "consumer_backlog_eviction"
)

// BacklogQuota is one backlog quota: LimitSize in bytes (destination_storage)
// or LimitTime in seconds (message_age), and the policy applied beyond it.
type BacklogQuota struct {
	LimitSize int64              `json:"limitSize"`
	LimitTime int                `json:"limitTime"`
	Policy    BacklogQuotaPolicy `json:"policy"`
}

// Policies are the policies of a namespace or a topic. A nil field is not
// set at that level: a topic's setting wins over its namespace's, which wins
// over the broker's defaults (no retention, no TTL, no backlog quota, no
// subscription expiration), as on a real broker.
type Policies struct {
	Retention         *Retention
	MessageTTLSeconds *int
	BacklogQuotas     map[BacklogQuotaType]BacklogQuota
	// SubscriptionExpirationMinutes is a namespace policy; pulsartest reports
	// it through the admin endpoint and does not expire subscriptions.
	SubscriptionExpirationMinutes *int
}

// SetPolicies replaces the policies of scope, a namespace ("tenant/ns") or a
// topic ("persistent://tenant/ns/topic"). They apply from the next
// Housekeep, ledger rollover or acknowledgement on.
func (b *Broker) SetPolicies(scope string, p Policies) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	if strings.Contains(scope, "://") && !b.cfg.topicPolicies {
		return fmt.Errorf("pulsartest: topic level policies are disabled (WithTopicPolicies(false)): %s", scope)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.policies == nil {
		b.policies = map[string]Policies{}
	}
	b.policies[scope] = p
	return nil
}

func checkScope(scope string) error {
	name := scope
	if i := strings.Index(scope, "://"); i >= 0 {
		name = scope[i+3:]
		if len(strings.Split(name, "/")) != 3 {
			return fmt.Errorf("pulsartest: %q is not a topic name (persistent://tenant/ns/topic)", scope)
		}
		return nil
	}
	if parts := strings.Split(name, "/"); len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("pulsartest: %q is neither a namespace (tenant/ns) nor a topic name", scope)
	}
	return nil
}

// effectiveLocked resolves the policies of topic: topic, then namespace,
// then the broker's defaults. set reports which level a field came from
// (for the admin endpoint's non-applied answers).
func (b *Broker) effectiveLocked(topic string) Policies {
	tp, np := b.policies[topic], b.policies[namespaceOf(topic)]
	if !b.cfg.topicPolicies {
		tp = Policies{}
	}
	eff := Policies{
		Retention:                     firstSet(tp.Retention, np.Retention, &Retention{}),
		MessageTTLSeconds:             firstSet(tp.MessageTTLSeconds, np.MessageTTLSeconds, new(0)),
		SubscriptionExpirationMinutes: firstSet(np.SubscriptionExpirationMinutes, new(0)),
		BacklogQuotas:                 tp.BacklogQuotas,
	}
	if eff.BacklogQuotas == nil {
		eff.BacklogQuotas = np.BacklogQuotas
	}
	return eff
}

func firstSet[T any](vs ...*T) *T {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// ManualClock is a clock a test moves forward instead of waiting: give
// WithClock its Now.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock that reads start until advanced.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now reads the clock.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// now is the broker's clock (WithClock).
func (b *Broker) now() time.Time { return b.cfg.clock() }

// Housekeep runs at once what a real broker runs periodically: message TTL
// expiry, backlog quota eviction and ledger trimming, on every topic.
func (b *Broker) Housekeep() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range b.topics {
		pol := b.effectiveLocked(t.name)
		if ttl := *pol.MessageTTLSeconds; ttl > 0 {
			t.expireLocked(b.now().Add(-time.Duration(ttl) * time.Second))
		}
		if q, ok := pol.BacklogQuotas[MessageAge]; ok && q.Policy == ConsumerBacklogEviction && q.LimitTime > 0 {
			t.expireLocked(b.now().Add(-time.Duration(q.LimitTime) * time.Second))
		}
		if q, ok := pol.BacklogQuotas[DestinationStorage]; ok && q.Policy == ConsumerBacklogEviction && q.LimitSize > 0 {
			t.evictLocked(q.LimitSize)
		}
		t.trimLocked()
	}
}

// RollLedgers closes the current ledger of every topic and trims, as a
// real broker does when a ledger reaches its maximum age or the topic is
// unloaded; the next message starts a new ledger.
func (b *Broker) RollLedgers() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range b.topics {
		t.rollLocked()
	}
}

// rollLocked closes the current ledger, if any, and trims.
func (t *topic) rollLocked() {
	t.ledger, t.nextEntry = 0, 0
	t.trimLocked()
}

// expireLocked moves every durable subscription past the entries published
// before cutoff, as message TTL and the message_age backlog quota do.
// Readers are left alone.
func (t *topic) expireLocked(cutoff time.Time) {
	ms := uint64(cutoff.UnixMilli())
	for _, s := range t.subs {
		if !s.durable {
			continue
		}
		k := s.markDelete
		for k+1 < t.end() && k+1 >= t.base && t.at(k+1).info.publishTime <= ms {
			k++
		}
		if k > s.markDelete {
			s.ackCumulative(k)
			s.persistLocked()
		}
	}
}

// evictLocked moves the slowest durable subscriptions forward until the
// backlog (the entries after the slowest mark-delete position) is at most
// limit bytes, as consumer_backlog_eviction does.
func (t *topic) evictLocked(limit int64) {
	k := t.end() - 1 // newest index that must be consumed
	var size int64
	for k >= t.base && size+int64(len(t.at(k).data)) <= limit {
		size += int64(len(t.at(k).data))
		k--
	}
	for _, s := range t.subs {
		if s.durable && s.markDelete < k {
			s.ackCumulative(k)
			s.persistLocked()
		}
	}
}

// trimLocked deletes the oldest closed ledgers that every durable
// subscription has consumed and the retention policy does not keep.
func (t *topic) trimLocked() {
	if len(t.entries) == 0 {
		return
	}
	consumed := t.end() - 1
	for _, s := range t.subs {
		if s.durable {
			consumed = min(consumed, s.markDelete)
		}
	}
	r := *t.b.effectiveLocked(t.name).Retention
	var total int64
	for i := range t.entries {
		total += int64(len(t.entries[i].data))
	}
	now, through, deleted := t.b.now(), -1, int64(0)
	for i := t.base; i < t.end(); {
		ledger := t.at(i).ledger
		if ledger == t.ledger {
			break // the current ledger is never deleted
		}
		j := i
		for j < t.end() && t.at(j).ledger == ledger {
			deleted += int64(len(t.at(j).data))
			j++
		}
		last := j - 1
		if last > consumed {
			break
		}
		age := now.Sub(time.UnixMilli(int64(t.at(last).info.publishTime)))
		expired := r.TimeInMinutes >= 0 && age >= time.Duration(r.TimeInMinutes)*time.Minute
		over := r.SizeInMB >= 0 && total-deleted >= r.SizeInMB<<20
		if !expired && !over {
			break
		}
		through, i = last, j
	}
	if through < t.base {
		return
	}
	if t.file != nil {
		if err := t.persistTrim(t.at(through).ledger); err != nil {
			t.b.log.Error("pulsartest: persist trim", "topic", t.name, "err", err)
			return
		}
	}
	t.trimmed = position{t.at(through).ledger, t.at(through).id}
	t.entries = append([]entry(nil), t.entries[through+1-t.base:]...)
	t.base = through + 1
	t.b.log.Debug("pulsartest: trimmed", "topic", t.name, "through", t.trimmed)
}

// persistTrim records the deduplication state (rebuilt from the entries on
// load, so it would go with them), then the trim.
func (t *topic) persistTrim(ledger uint64) error {
	for name, seq := range t.lastSeq {
		if err := t.file.appendDedup(name, seq); err != nil {
			return err
		}
	}
	return t.file.appendTrim(ledger)
}
