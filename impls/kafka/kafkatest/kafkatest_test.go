package kafkatest

import (
	"context"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, opts ...Option) *Cluster {
	t.Helper()
	c, err := Start(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func client(t *testing.T, c *Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Addrs()...), kgo.RequestRetries(0), kgo.RecordRetries(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, cl *kgo.Client, topic string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatal(err)
	}
}

func produce(t *testing.T, cl *kgo.Client, topic, value string) (int64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).First()
	if err != nil {
		return -1, err
	}
	return r.Offset, nil
}

func count(t *testing.T, c *Cluster, topic string) int {
	t.Helper()
	cl := client(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n := 0
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(*kgo.Record) { n++ })
	}
	return n
}

func TestStartValidates(t *testing.T) {
	if _, err := Start(context.Background(), WithBrokers(0)); err == nil {
		t.Error("Start with 0 brokers succeeded")
	}
	if _, err := Start(context.Background(), WithSASL("GSSAPI", "u", "p")); err == nil {
		t.Error("Start with an unknown SASL mechanism succeeded")
	}
}

func TestRestartKeepsDataAndPorts(t *testing.T) {
	c := start(t, WithBrokers(2))
	addrs := c.Addrs()
	cl := client(t, c)
	createTopic(t, cl, "keep")
	if _, err := produce(t, cl, "keep", "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.Addrs(); len(got) != 2 || got[0] != addrs[0] || got[1] != addrs[1] {
		t.Fatalf("addresses after restart %v, want %v", got, addrs)
	}
	off, err := produce(t, client(t, c), "keep", "b")
	if err != nil || off != 1 {
		t.Fatalf("produce after restart: offset %d, %v; want offset 1", off, err)
	}
	if n := count(t, c, "keep"); n != 2 {
		t.Fatalf("%d records after restart, want 2", n)
	}
}

func TestMoveLeader(t *testing.T) {
	c := start(t, WithBrokers(3))
	createTopic(t, client(t, c), "moving")
	before := c.LeaderFor("moving", 0)
	after, err := c.MoveLeader("moving", 0)
	if err != nil || after == before || c.LeaderFor("moving", 0) != after {
		t.Fatalf("MoveLeader: %d -> %d, %v", before, after, err)
	}
	if _, err := c.MoveLeader("missing", 0); err == nil {
		t.Fatal("MoveLeader of a missing topic succeeded")
	}
	n, err := c.MoveAllLeaders(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("MoveAllLeaders moved %d, %v; want 1", n, err)
	}
}

func TestDropNextResponseStoresTheRequest(t *testing.T) {
	c := start(t)
	cl := client(t, c, kgo.DisableIdempotentWrite())
	createTopic(t, cl, "lost")
	if err := c.DropNextResponse(kmsg.Produce, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := produce(t, cl, "lost", "stored"); err == nil {
		t.Fatal("produce whose response was dropped succeeded")
	}
	if c.DropsPending() != 0 {
		t.Fatal("the armed drop did not fire")
	}
	// The broker stored it although the client never heard back.
	if off, err := produce(t, client(t, c), "lost", "next"); err != nil || off != 1 {
		t.Fatalf("next produce: offset %d, %v; want 1", off, err)
	}
}

func TestFailAndDelayRequests(t *testing.T) {
	c := start(t)
	cl := client(t, c)
	createTopic(t, cl, "faulty")
	c.FailRequests(kmsg.Produce, "faulty", kerr.NotLeaderForPartition, 1)
	if _, err := produce(t, cl, "faulty", "x"); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("faulted produce: %v, want NOT_LEADER_FOR_PARTITION", err)
	}
	c.DelayRequests(kmsg.Produce, 300*time.Millisecond, 1)
	begin := time.Now()
	if _, err := produce(t, cl, "faulty", "y"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d < 300*time.Millisecond {
		t.Fatalf("delayed produce took %v, want at least 300ms", d)
	}
}

func TestDropConnections(t *testing.T) {
	c := start(t)
	cl := client(t, c)
	createTopic(t, cl, "drop")
	open := c.Connections()
	if open == 0 {
		t.Fatal("Connections is 0 after a request")
	}
	if n := c.DropConnections(); n != open {
		t.Fatalf("dropped %d connections, Connections said %d", n, open)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Connections() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Connections is %d after dropping them all", c.Connections())
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := produce(t, client(t, c), "drop", "after"); err != nil {
		t.Fatalf("produce after dropping connections: %v", err)
	}
}

func TestCloseIsIdempotentAndRemovesTempDir(t *testing.T) {
	c, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := c.DataDir()
	c.Close()
	c.Close()
	if err := c.Restart(context.Background()); err == nil {
		t.Fatal("Restart after Close succeeded")
	}
	if _, err := filepathStat(dir); err == nil {
		t.Fatalf("temporary data dir %s survived Close", dir)
	}
}

// produceAs sends one record as idempotent producer pid with epoch and
// first sequence seq, the way a client that picks its own producer id does,
// and returns the partition's error.
func produceAs(t *testing.T, c *Cluster, cl *kgo.Client, topic string, pid int64, epoch int16, seq int32, value string) error {
	t.Helper()
	rec := kmsg.Record{Value: []byte(value)}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		Magic: 2, FirstTimestamp: now, MaxTimestamp: now, ProducerID: pid, ProducerEpoch: epoch,
		FirstSequence: seq, NumRecords: 1, Records: rec.AppendTo(nil),
	}
	enc := b.AppendTo(nil)
	b.Length = int32(len(enc) - 12)
	enc = b.AppendTo(nil)
	b.CRC = int32(crc32.Checksum(enc[21:], crc32.MakeTable(crc32.Castagnoli)))
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, c.Kfake().TopicInfo(topic).TopicID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = b.AppendTo(nil)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

func TestForgetProducersAcceptsAFencedEpochAgain(t *testing.T) {
	c := start(t)
	cl := client(t, c)
	createTopic(t, cl, "fenced")
	const pid = 1 << 62
	if err := produceAs(t, c, cl, "fenced", pid, 2, 0, "epoch 2"); err != nil {
		t.Fatal(err)
	}
	if err := produceAs(t, c, cl, "fenced", pid, 1, 7, "zombie"); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("lower epoch while the broker knows the producer: %v, want INVALID_PRODUCER_EPOCH", err)
	}
	// A plain restart keeps the producer state.
	if err := c.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := produceAs(t, c, client(t, c), "fenced", pid, 1, 7, "zombie"); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("lower epoch after Restart: %v, want INVALID_PRODUCER_EPOCH", err)
	}
	if err := c.ForgetProducers(context.Background()); err != nil {
		t.Fatal(err)
	}
	cl = client(t, c)
	if err := produceAs(t, c, cl, "fenced", pid, 1, 7, "zombie"); err != nil {
		t.Fatalf("lower epoch after ForgetProducers: %v, want it stored", err)
	}
	if off, err := produce(t, cl, "fenced", "plain"); err != nil || off != 2 {
		t.Fatalf("records before ForgetProducers are gone: next offset %d, %v; want 2", off, err)
	}
}

func TestApplyRetention(t *testing.T) {
	// Every topic without its own setting keeps at most 1 byte.
	c := start(t, WithBrokerConfigs(map[string]string{"log.retention.bytes": "1"}))
	cl := client(t, c)
	createTopic(t, cl, "defaults")
	if err := c.Kfake().CreateTopic("unlimited", 1, map[string]string{"retention.bytes": "-1", "retention.ms": "-1"}); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"defaults", "unlimited"} {
		for _, v := range []string{"a", "b"} {
			if _, err := produce(t, cl, topic, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.ApplyRetention()
	if start := c.Kfake().PartitionInfo("defaults", 0).LogStartOffset; start != 2 {
		t.Errorf("topic under log.retention.bytes=1: log start %d after ApplyRetention, want 2", start)
	}
	if start := c.Kfake().PartitionInfo("unlimited", 0).LogStartOffset; start != 0 {
		t.Errorf("topic with retention.bytes=-1: log start %d after ApplyRetention, want 0", start)
	}
}

func TestForgetProducersInMemoryIsRefused(t *testing.T) {
	c := start(t, WithInMemory())
	if err := c.ForgetProducers(context.Background()); err == nil {
		t.Fatal("ForgetProducers of an in-memory cluster succeeded")
	}
}
