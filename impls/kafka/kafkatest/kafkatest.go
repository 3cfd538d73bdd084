package kafkatest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanism names accepted by WithSASL.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Option configures Start. Options are values; later ones win.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type saslUser struct{ mechanism, user, pass string }

type config struct {
	inMemory bool
	brokers  int
	ports    []int
	dataDir  string
	tls      *tls.Config
	sasl     []saslUser
	maxBytes int
	bcfgs    map[string]string
	floor    string // protocol floor release, see WithProtocolFloor
	extra    []kfake.Opt
}

// WithBrokers sets how many brokers the cluster runs (default 1).
func WithBrokers(n int) Option { return optionFunc(func(c *config) { c.brokers = n }) }

// WithPorts fixes the loopback ports, one per broker (default: free ports,
// chosen once and kept across Restart).
func WithPorts(ports ...int) Option {
	return optionFunc(func(c *config) { c.ports = append([]int(nil), ports...) })
}

// WithDataDir keeps the cluster's data in dir, which outlives Close. By
// default Start uses a temporary directory that Close removes.
func WithDataDir(dir string) Option { return optionFunc(func(c *config) { c.dataDir = dir }) }

// WithInMemory keeps the data in memory only: faster (benchmarks), but
// Restart is refused because it would lose everything.
func WithInMemory() Option { return optionFunc(func(c *config) { c.inMemory = true }) }

// WithTLS makes every broker listen with TLS using cfg (which must carry a
// certificate). DropNextResponse needs plaintext and is refused with TLS.
func WithTLS(cfg *tls.Config) Option { return optionFunc(func(c *config) { c.tls = cfg }) }

// WithSASL requires SASL authentication and adds a superuser with the given
// mechanism (SASLPlain, SASLScramSHA256 or SASLScramSHA512). Repeat it to
// add more users.
func WithSASL(mechanism, user, pass string) Option {
	return optionFunc(func(c *config) { c.sasl = append(c.sasl, saslUser{mechanism, user, pass}) })
}

// WithMaxMessageBytes sets the brokers' message.max.bytes (kfake's default
// is 1,048,588).
func WithMaxMessageBytes(n int) Option { return optionFunc(func(c *config) { c.maxBytes = n }) }

// WithBrokerConfigs sets broker configs, such as log.retention.ms or
// log.retention.bytes: the defaults of every topic that does not set its
// own. Repeat it to add more; later values win.
func WithBrokerConfigs(configs map[string]string) Option {
	return optionFunc(func(c *config) {
		if c.bcfgs == nil {
			c.bcfgs = map[string]string{}
		}
		for k, v := range configs {
			c.bcfgs[k] = v
		}
	})
}

// WithKfakeOptions passes options straight to kfake.NewCluster, for what
// this package does not wrap.
func WithKfakeOptions(opts ...kfake.Opt) Option {
	return optionFunc(func(c *config) { c.extra = append(c.extra, opts...) })
}

// Cluster is a running in-process Kafka cluster. Its methods are safe for
// concurrent use.
type Cluster struct {
	cfg     config
	tempDir bool

	mu      sync.Mutex
	kc      *kfake.Cluster
	addrs   []string
	conns   map[*faultConn]struct{}
	drops   map[int16]int // api key -> responses still to drop
	floorV  map[kmsg.Key]int16
	refused []string // requests refused below the protocol floor
	closed  bool
	done    chan struct{} // closed by Close, ends DelayRequests sleeps
}

// Start starts a cluster and returns once every broker accepts connections.
// ctx bounds the start only, not the cluster's life: Close ends it.
func Start(ctx context.Context, opts ...Option) (*Cluster, error) {
	cfg := config{brokers: 1, floor: floorFromEnv()}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if len(cfg.ports) > 0 {
		cfg.brokers = len(cfg.ports)
	}
	if cfg.brokers < 1 {
		return nil, fmt.Errorf("kafkatest: WithBrokers(%d): at least one broker is needed", cfg.brokers)
	}
	for _, s := range cfg.sasl {
		switch s.mechanism {
		case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		default:
			return nil, fmt.Errorf("kafkatest: WithSASL mechanism %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.mechanism)
		}
	}
	floor, err := protocolFloor(cfg.floor)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, conns: map[*faultConn]struct{}{}, drops: map[int16]int{}, floorV: floor, done: make(chan struct{})}
	if c.cfg.dataDir == "" && !c.cfg.inMemory {
		dir, err := os.MkdirTemp("", "kafkatest-")
		if err != nil {
			return nil, fmt.Errorf("kafkatest: data dir: %w", err)
		}
		c.cfg.dataDir, c.tempDir = dir, true
	}
	if err := c.start(); err != nil {
		if c.tempDir {
			os.RemoveAll(c.cfg.dataDir)
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start() error {
	opts := []kfake.Opt{
		kfake.NumBrokers(c.cfg.brokers),
		// Topics are created by clients explicitly (as a WAL does); a
		// metadata request must never create one by accident.
		kfake.DefaultNumPartitions(1),
		kfake.ListenFn(c.listen),
	}
	if !c.cfg.inMemory {
		opts = append(opts, kfake.DataDir(c.cfg.dataDir))
	}
	if len(c.cfg.ports) > 0 {
		opts = append(opts, kfake.Ports(c.cfg.ports...))
	}
	if c.cfg.tls != nil {
		opts = append(opts, kfake.TLS(c.cfg.tls))
	}
	if len(c.cfg.sasl) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, s := range c.cfg.sasl {
			opts = append(opts, kfake.Superuser(s.mechanism, s.user, s.pass))
		}
	}
	if len(c.cfg.bcfgs) > 0 {
		opts = append(opts, kfake.BrokerConfigs(c.cfg.bcfgs))
	}
	if c.cfg.maxBytes > 0 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(c.cfg.maxBytes)}))
	}
	opts = append(opts, c.cfg.extra...)
	kc, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("kafkatest: start cluster: %w", err)
	}
	if c.floorV != nil {
		c.installFloor(kc, c.floorV)
	}
	addrs := kc.ListenAddrs()
	if len(c.cfg.ports) == 0 {
		// Keep the ports so Restart comes back where clients look.
		for _, a := range addrs {
			_, p, _ := net.SplitHostPort(a)
			port, _ := strconv.Atoi(p)
			c.cfg.ports = append(c.cfg.ports, port)
		}
	}
	c.mu.Lock()
	c.kc, c.addrs = kc, addrs
	c.mu.Unlock()
	return nil
}

// Addrs are the brokers' host:port seed addresses.
func (c *Cluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.addrs...)
}

// Kfake is the underlying kfake cluster, for faults and controls this
// package does not wrap. It changes on Restart.
func (c *Cluster) Kfake() *kfake.Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kc
}

// DataDir is where the cluster keeps its data; "" with WithInMemory.
func (c *Cluster) DataDir() string { return c.cfg.dataDir }

// Restart stops every broker (clients see their connections drop), then
// starts them again on the same ports with the same data: records, topics,
// log start offsets and idempotent-producer sequence state survive. kfake
// restarts the cluster as a whole; a single broker cannot restart alone.
// Faults and controls installed on the old cluster are gone; the protocol
// floor (WithProtocolFloor) stays.
func (c *Cluster) Restart(ctx context.Context) error { return c.restart(ctx, false) }

// ForgetProducers restarts the cluster as Restart does, but without its
// idempotent-producer state: every producer id, epoch and sequence window
// is gone, as on a real broker once producer.id.expiration.ms has passed
// since a producer's last batch. Brokers accept any epoch and sequence
// from a producer they do not know (KIP-360), so a writer fenced by a
// higher epoch is no longer refused. A real broker forgets only idle
// producers; this forgets all of them at once.
func (c *Cluster) ForgetProducers(ctx context.Context) error { return c.restart(ctx, true) }

// ApplyRetention deletes now what each topic's retention.ms and
// retention.bytes (or the brokers' log.retention.ms and log.retention.bytes
// defaults) allow, as a real broker's log cleaner does every
// log.retention.check.interval.ms: the log start offset moves past every
// batch older than retention.ms (by its timestamp) and past the oldest
// batches beyond retention.bytes.
func (c *Cluster) ApplyRetention() { c.Kfake().ApplyRetention() }

// producerStateFiles are where kfake keeps idempotent-producer state in its
// data directory.
var producerStateFiles = []string{"pids.log", "seq_windows.json"}

func (c *Cluster) restart(ctx context.Context, forgetProducers bool) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("kafkatest: restart of a closed cluster")
	}
	if c.cfg.inMemory {
		c.mu.Unlock()
		return errors.New("kafkatest: restart of an in-memory cluster would lose its data (WithInMemory)")
	}
	kc := c.kc
	c.mu.Unlock()
	kc.Close()
	c.DropConnections()
	if err := ctx.Err(); err != nil {
		return err
	}
	if forgetProducers {
		for _, name := range producerStateFiles {
			if err := os.Remove(filepath.Join(c.cfg.dataDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("kafkatest: forget producers: %w", err)
			}
		}
	}
	// The old listeners are closed; the ports can be bound again at once on
	// loopback, but a racing dialer may hold one briefly, so retry a little.
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = c.start(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return err
}

// LeaderFor is the node ID leading topic/partition, -1 if it does not exist.
func (c *Cluster) LeaderFor(topic string, partition int32) int32 {
	return c.Kfake().LeaderFor(topic, partition)
}

// MoveLeader moves the leadership of topic/partition to the next broker
// (node IDs are 0..n-1) and returns the new leader. With one broker it
// still bumps the leader epoch. Clients with stale metadata get
// NOT_LEADER_FOR_PARTITION until they refresh.
func (c *Cluster) MoveLeader(topic string, partition int32) (int32, error) {
	kc := c.Kfake()
	cur := kc.LeaderFor(topic, partition)
	if cur < 0 {
		return -1, fmt.Errorf("kafkatest: move leader of %s/%d: no such partition", topic, partition)
	}
	next := (cur + 1) % int32(c.cfg.brokers)
	if err := kc.MoveTopicPartition(topic, partition, next); err != nil {
		return -1, fmt.Errorf("kafkatest: move leader of %s/%d: %w", topic, partition, err)
	}
	return next, nil
}

// MoveAllLeaders moves the leader of every partition of every topic to the
// next broker, as a controller failover would. It returns how many
// partitions moved.
func (c *Cluster) MoveAllLeaders(ctx context.Context) (int, error) {
	cl, err := kgo.NewClient(append(c.clientOpts(), kgo.SeedBrokers(c.Addrs()...))...)
	if err != nil {
		return 0, fmt.Errorf("kafkatest: move leaders: %w", err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("kafkatest: move leaders: metadata: %w", err)
	}
	n := 0
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		for _, p := range t.Partitions {
			if _, err := c.MoveLeader(*t.Topic, p.Partition); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// clientOpts are the kgo options to reach this cluster.
func (c *Cluster) clientOpts() []kgo.Opt {
	var opts []kgo.Opt
	if c.cfg.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{InsecureSkipVerify: true})) //nolint:gosec // our own test cluster
	}
	if len(c.cfg.sasl) > 0 {
		s := c.cfg.sasl[0]
		switch s.mechanism {
		case SASLPlain:
			opts = append(opts, kgo.SASL(plain.Auth{User: s.user, Pass: s.pass}.AsMechanism()))
		case SASLScramSHA256:
			opts = append(opts, kgo.SASL(scram.Auth{User: s.user, Pass: s.pass}.AsSha256Mechanism()))
		case SASLScramSHA512:
			opts = append(opts, kgo.SASL(scram.Auth{User: s.user, Pass: s.pass}.AsSha512Mechanism()))
		}
	}
	return opts
}

// DropConnections closes every client connection now open; the brokers
// keep running and accept new ones. It returns how many it closed.
func (c *Cluster) DropConnections() int {
	c.mu.Lock()
	conns := make([]*faultConn, 0, len(c.conns))
	for fc := range c.conns {
		conns = append(conns, fc)
	}
	c.mu.Unlock()
	for _, fc := range conns {
		fc.Close() //nolint:errcheck // dropping the connection: nothing more is read or sent on it
	}
	return len(conns)
}

// Connections is how many client connections are open now, over all
// brokers: what a client holds, since the brokers run in this process.
func (c *Cluster) Connections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

// DropNextResponse makes the brokers handle the next count requests of
// kind key as usual — a produce is stored — but swallow the response and
// close that connection instead, so the client cannot know the outcome.
// Not available with TLS (the responses are encrypted below this hook).
func (c *Cluster) DropNextResponse(key kmsg.Key, count int) error {
	if c.cfg.tls != nil {
		return errors.New("kafkatest: DropNextResponse needs a plaintext cluster")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drops[int16(key)] += count
	return nil
}

// DropsPending is how many armed response drops have not fired yet.
func (c *Cluster) DropsPending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.drops {
		n += v
	}
	return n
}

// FailRequests answers the next count requests of kind key (count < 0: until
// the handle's Remove) with code instead of the real answer; topic "" means
// every topic. See kfake.Fault for which codes still apply the request.
func (c *Cluster) FailRequests(key kmsg.Key, topic string, code *kerr.Error, count int) *kfake.FaultHandle {
	return c.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{key}, Topic: topic, Err: code, Count: count})
}

// DelayRequests holds each of the next count requests of kind key for d
// before the broker handles it normally.
func (c *Cluster) DelayRequests(key kmsg.Key, d time.Duration, count int) {
	kc := c.Kfake()
	var mu sync.Mutex
	left := count
	kc.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		mu.Lock()
		run := left > 0
		left--
		if left <= 0 {
			kc.DropControl()
		}
		mu.Unlock()
		if run {
			kc.SleepControl(func() {
				t := time.NewTimer(d)
				defer t.Stop()
				select {
				case <-t.C:
				case <-c.done:
				}
			})
		}
		return nil, nil, false
	})
}

// Close stops the cluster, closes every connection and removes the data
// directory if Start created it. Idempotent.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	kc := c.kc
	c.mu.Unlock()
	kc.Close()
	c.DropConnections()
	if c.tempDir {
		os.RemoveAll(c.cfg.dataDir)
	}
}

func (c *Cluster) listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return &trackingListener{Listener: ln, c: c}, nil
}

// takeDrop consumes one armed drop for key.
func (c *Cluster) takeDrop(key int16) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drops[key] > 0 {
		c.drops[key]--
		return true
	}
	return false
}

func (c *Cluster) track(fc *faultConn, add bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if add {
		c.conns[fc] = struct{}{}
	} else {
		delete(c.conns, fc)
	}
}
