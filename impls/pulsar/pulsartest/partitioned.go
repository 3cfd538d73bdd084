package pulsartest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Partitioned topics, as a real broker keeps them: metadata (the partition
// count under the topic's name) that an admin creates, and one ordinary
// topic per partition, "<topic>-partition-<i>", created with it. Clients ask
// PARTITIONED_METADATA first and then produce to and consume from the
// partitions; the name itself holds no messages.

// partitionSuffix separates a partition's index from its topic's name.
const partitionSuffix = "-partition-"

// Errors of CreatePartitionedTopic, which the admin endpoint answers with a
// real broker's status codes.
var (
	// ErrTopicExists: a partitioned or non-partitioned topic of that name
	// exists (409 Conflict, "This topic already exists").
	ErrTopicExists = errors.New("pulsartest: this topic already exists")
	// ErrInvalidPartitions: fewer than one partition, or a name that is
	// itself a partition's (406 Not Acceptable, 412 Precondition Failed).
	ErrInvalidPartitions = errors.New("pulsartest: invalid partitioned topic")
)

// CreatePartitionedTopic creates topic (persistent://tenant/ns/name) as a
// partitioned topic with n partitions, as `pulsar-admin topics
// create-partitioned-topic -p n` does (and the admin endpoint's PUT
// .../partitions): its metadata, kept across Restart, and its n partition
// topics. PARTITIONED_METADATA then reports n for topic.
func (b *Broker) CreatePartitionedTopic(topic string, n int) error {
	if err := checkScope(topic); err != nil || !strings.Contains(topic, "://") {
		return fmt.Errorf("%w: %q is not a topic name (persistent://tenant/ns/topic)", ErrInvalidPartitions, topic)
	}
	if n < 1 {
		return fmt.Errorf("%w: number of partitions should be more than 0, got %d", ErrInvalidPartitions, n)
	}
	if strings.Contains(topic, partitionSuffix) {
		return fmt.Errorf("%w: partitioned topic name should not contain '%s': %s", ErrInvalidPartitions, partitionSuffix, topic)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.partitioned[topic]; ok || b.topics[topic] != nil {
		return fmt.Errorf("%w: %s", ErrTopicExists, topic)
	}
	next := maps.Clone(b.partitioned)
	if next == nil {
		next = map[string]int{}
	}
	next[topic] = n
	if b.store != nil {
		if err := b.store.savePartitioned(next); err != nil {
			return err
		}
	}
	b.partitioned = next
	for i := range n {
		if _, err := b.topicLocked(fmt.Sprintf("%s%s%d", topic, partitionSuffix, i)); err != nil {
			return err
		}
	}
	return nil
}

// partitionsLocked is the partition count PARTITIONED_METADATA reports: 0
// for a non-partitioned topic (or one that does not exist).
func (b *Broker) partitionsLocked(topic string) int { return b.partitioned[topic] }

// savePartitioned replaces <dataDir>/PARTITIONED with m, atomically.
func (s *store) savePartitioned(m map[string]int) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.dir, "PARTITIONED.tmp")
	if err := writeFileSync(tmp, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "PARTITIONED")); err != nil {
		return err
	}
	return syncDir(s.dir)
}

// loadPartitioned reads <dataDir>/PARTITIONED (none yet: no partitioned
// topics).
func (s *store) loadPartitioned() (map[string]int, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, "PARTITIONED"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]int{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pulsartest: partitioned topics: %w", err)
	}
	m := map[string]int{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("pulsartest: partitioned topics: %w", err)
	}
	return m, nil
}

// handleCreatePartitioned is PUT /admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions
// with the partition count as the JSON body.
func (b *Broker) handleCreatePartitioned(w http.ResponseWriter, r *http.Request) {
	topic := "persistent://" + r.PathValue("tenant") + "/" + r.PathValue("namespace") + "/" + r.PathValue("topic")
	var n int
	if err := json.NewDecoder(io.LimitReader(r.Body, 64)).Decode(&n); err != nil {
		adminError(w, http.StatusBadRequest, "the body must be the number of partitions: "+err.Error())
		return
	}
	err := b.CreatePartitionedTopic(topic, n)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrTopicExists):
		adminError(w, http.StatusConflict, "This topic already exists")
	case errors.Is(err, ErrInvalidPartitions) && strings.Contains(topic, partitionSuffix):
		adminError(w, http.StatusPreconditionFailed, err.Error())
	case errors.Is(err, ErrInvalidPartitions):
		adminError(w, http.StatusNotAcceptable, err.Error())
	default:
		adminError(w, http.StatusInternalServerError, err.Error())
	}
}

// handleGetPartitions is GET .../partitions: {"partitions": n}, 0 for a
// non-partitioned topic.
func (b *Broker) handleGetPartitions(w http.ResponseWriter, r *http.Request) {
	topic := "persistent://" + r.PathValue("tenant") + "/" + r.PathValue("namespace") + "/" + r.PathValue("topic")
	b.mu.Lock()
	n := b.partitionsLocked(topic)
	b.mu.Unlock()
	writeValue(w, map[string]int{"partitions": n}, true)
}
