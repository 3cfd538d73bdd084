package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The faults of the Kafka tests act through a second client, franz-go, as
// an operator's tools would: it negotiates request versions with Kafka 3
// and 4 alike, and routes admin requests to the controller by itself.

// adminClient connects to brokers for the duration of t.
func adminClient(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DialTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// partition is partition metadata of one topic.
type partition struct {
	Topic     string
	Partition int32
	Leader    int32
	Replicas  []int32
	ISR       []int32
}

// clusterState is one metadata answer: the live brokers and the partitions
// of the topics whose name starts with the prefix asked for.
type clusterState struct {
	Brokers    []int32
	Partitions []partition
}

func describe(ctx context.Context, cl *kgo.Client, topicPrefix string) (clusterState, error) {
	req := kmsg.NewPtrMetadataRequest() // no topics listed: all of them
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return clusterState{}, fmt.Errorf("metadata: %w", err)
	}
	var s clusterState
	for _, b := range resp.Brokers {
		s.Brokers = append(s.Brokers, b.NodeID)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || !strings.HasPrefix(*t.Topic, topicPrefix) {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return s, fmt.Errorf("metadata of %s: %w", *t.Topic, err)
		}
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil && !errors.Is(err, kerr.ReplicaNotAvailable) {
				return s, fmt.Errorf("metadata of %s/%d: %w", *t.Topic, p.Partition, err)
			}
			s.Partitions = append(s.Partitions, partition{Topic: *t.Topic, Partition: p.Partition, Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR})
		}
	}
	return s, nil
}

// kafkaReady is a readiness check: brokers answer metadata, and every
// partition of the prefix's topics has a leader again.
func kafkaReady(cl *kgo.Client, topicPrefix string) func(context.Context) error {
	return func(ctx context.Context) error {
		s, err := describe(ctx, cl, topicPrefix)
		if err != nil {
			return err
		}
		if len(s.Brokers) == 0 {
			return errors.New("metadata lists no broker")
		}
		for _, p := range s.Partitions {
			if p.Leader < 0 {
				return fmt.Errorf("%s/%d has no leader", p.Topic, p.Partition)
			}
		}
		return nil
	}
}

// leaderFirst picks the next leader of p, the first in-sync replica in
// replica order that is not the current leader, and returns the replica
// list reordered to start with it: the same replicas, so the reassignment
// moves no data, and the new first is what a preferred election elects.
func leaderFirst(p partition) (order []int32, next int32, err error) {
	for _, r := range p.Replicas {
		if r != p.Leader && slices.Contains(p.ISR, r) {
			order = append([]int32{r}, slices.DeleteFunc(slices.Clone(p.Replicas), func(x int32) bool { return x == r })...)
			return order, r, nil
		}
	}
	return nil, -1, fmt.Errorf("%s/%d: no in-sync replica besides leader %d (replicas %v, ISR %v)", p.Topic, p.Partition, p.Leader, p.Replicas, p.ISR)
}

// busiestLeader is the broker that leads the most of parts (the lowest ID
// on a tie), the one whose loss moves the most leaders.
func busiestLeader(parts []partition) (int32, error) {
	count := map[int32]int{}
	for _, p := range parts {
		if p.Leader >= 0 {
			count[p.Leader]++
		}
	}
	best, most := int32(-1), 0
	for _, id := range slices.Sorted(maps.Keys(count)) {
		if count[id] > most {
			best, most = id, count[id]
		}
	}
	if best < 0 {
		return -1, errors.New("no partition has a leader")
	}
	return best, nil
}

// moveLeaders moves the leader of every partition of the prefix's topics to
// another in-sync replica: reorder the replicas (AlterPartitionReassignments)
// and run a preferred leader election (ElectLeaders), then wait until the
// metadata shows the new leaders.
func moveLeaders(ctx context.Context, cl *kgo.Client, topicPrefix string) error {
	s, err := describe(ctx, cl, topicPrefix)
	if err != nil {
		return err
	}
	if len(s.Partitions) == 0 {
		return fmt.Errorf("no topic starts with %q: nothing to move", topicPrefix)
	}
	want := map[string]int32{}
	alter := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	elect := kmsg.NewPtrElectLeadersRequest()
	elect.TimeoutMillis = 30_000
	for _, p := range s.Partitions {
		order, next, err := leaderFirst(p)
		if err != nil {
			return err
		}
		want[fmt.Sprintf("%s/%d", p.Topic, p.Partition)] = next
		at := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		at.Topic = p.Topic
		ap := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		ap.Partition, ap.Replicas = p.Partition, order
		at.Partitions = append(at.Partitions, ap)
		alter.Topics = append(alter.Topics, at)
		et := kmsg.NewElectLeadersRequestTopic()
		et.Topic, et.Partitions = p.Topic, []int32{p.Partition}
		elect.Topics = append(elect.Topics, et)
	}
	ar, err := alter.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("AlterPartitionReassignments: %w", err)
	}
	if err := kerr.ErrorForCode(ar.ErrorCode); err != nil {
		return fmt.Errorf("AlterPartitionReassignments: %w", err)
	}
	for _, t := range ar.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("AlterPartitionReassignments %s/%d: %w", t.Topic, p.Partition, err)
			}
		}
	}
	// The reassignment completes at once (no replica is added), but the
	// election may run before the controller applied it: elect until the
	// leaders are where they should be.
	return poll(ctx, 2*time.Minute, "leader move", func(ctx context.Context) error {
		er, err := elect.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("ElectLeaders: %w", err)
		}
		for _, t := range er.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && !errors.Is(err, kerr.ElectionNotNeeded) {
					return fmt.Errorf("ElectLeaders %s/%d: %w", t.Topic, p.Partition, err)
				}
			}
		}
		now, err := describe(ctx, cl, topicPrefix)
		if err != nil {
			return err
		}
		for _, p := range now.Partitions {
			if w, ok := want[fmt.Sprintf("%s/%d", p.Topic, p.Partition)]; ok && p.Leader != w {
				return fmt.Errorf("%s/%d: leader %d, want %d", p.Topic, p.Partition, p.Leader, w)
			}
		}
		return nil
	})
}

// brokerStopper stops one broker of a cluster per injection: the one that
// leads the most of the prefix's partitions, after starting the one stopped
// by the injection before (and waiting until it is back in every ISR, so
// no partition is left with fewer in-sync replicas than min.insync.replicas
// asks for). It leaves its last victim stopped until restore.
type brokerStopper struct {
	cl          *kgo.Client
	docker      *testcontainers.DockerClient
	nodes       map[int32]string // node ID → container name
	topicPrefix string

	mu        sync.Mutex
	stopped   string // container name; "" while every broker runs
	stoppedID int32
}

func (s *brokerStopper) inject(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startStopped(ctx); err != nil {
		return err
	}
	st, err := describe(ctx, s.cl, s.topicPrefix)
	if err != nil {
		return err
	}
	victim, err := busiestLeader(st.Partitions)
	if err != nil {
		return err
	}
	name, ok := s.nodes[victim]
	if !ok {
		return fmt.Errorf("broker %d leads, but no container is known for it (known: %v)", victim, s.nodes)
	}
	grace := 10
	if err := s.docker.ContainerStop(ctx, name, container.StopOptions{Timeout: &grace}); err != nil {
		return fmt.Errorf("stop %s (broker %d): %w", name, victim, err)
	}
	s.stopped, s.stoppedID = name, victim
	return poll(ctx, 2*time.Minute, fmt.Sprintf("new leaders after stopping broker %d", victim), func(ctx context.Context) error {
		now, err := describe(ctx, s.cl, s.topicPrefix)
		if err != nil {
			return err
		}
		for _, p := range now.Partitions {
			if p.Leader < 0 || p.Leader == victim {
				return fmt.Errorf("%s/%d: leader %d", p.Topic, p.Partition, p.Leader)
			}
		}
		return nil
	})
}

// startStopped starts the broker stopped last, if any, and waits until it
// is back in the ISR of every partition of the prefix's topics.
func (s *brokerStopper) startStopped(ctx context.Context) error {
	if s.stopped == "" {
		return nil
	}
	name, id := s.stopped, s.stoppedID
	if err := s.docker.ContainerStart(ctx, name, container.StartOptions{}); err != nil {
		return fmt.Errorf("start %s (broker %d): %w", name, id, err)
	}
	s.stopped = ""
	return poll(ctx, 3*time.Minute, fmt.Sprintf("broker %d back in every ISR", id), func(ctx context.Context) error {
		st, err := describe(ctx, s.cl, s.topicPrefix)
		if err != nil {
			return err
		}
		if !slices.Contains(st.Brokers, id) {
			return fmt.Errorf("broker %d is not registered yet (brokers %v)", id, st.Brokers)
		}
		for _, p := range st.Partitions {
			if len(p.ISR) < len(p.Replicas) {
				return fmt.Errorf("%s/%d: ISR %v of replicas %v", p.Topic, p.Partition, p.ISR, p.Replicas)
			}
		}
		return nil
	})
}

// restore starts the broker left stopped, so the cluster is whole for
// whatever runs next.
func (s *brokerStopper) restore(t *testing.T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := s.startStopped(ctx); err != nil {
		t.Errorf("restore the cluster: %v", err)
	}
}
