package pulsartest

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
)

// Broker is an in-process Pulsar broker speaking the binary protocol on a
// loopback port. All methods are safe for concurrent use. A Broker must be
// closed; Close never blocks on clients.
type Broker struct {
	cfg config
	log *slog.Logger

	// lifeMu serialises Start/Restart/Close so a restart never races a close.
	lifeMu  sync.Mutex
	ln      net.Listener
	addr    string // host:port actually bound, reused by Restart
	running bool
	closed  bool
	wg      sync.WaitGroup // accept loop and connection goroutines

	admin     *http.Server // the admin endpoint, up from New to Close
	adminAddr string
	adminDone chan struct{}

	// mu guards everything below and all topic, producer, subscription and
	// consumer state. One lock keeps receipts and deliveries in store order
	// without reasoning about lock hierarchies; the broker is not the
	// bottleneck of the client (see the benchmarks).
	mu             sync.Mutex
	conns          map[*conn]struct{}
	topics         map[string]*topic
	store          *store
	nextLedger     uint64
	nextProducer   uint64
	instance       string // random, names generated producers
	paused         bool
	stopping       bool // set while stop runs: refuse newly accepted connections
	receiptsPaused bool
	dropNext       map[string]int // topic ("" = any) -> receipts left to drop
	storeHook      func(StoredMessage) bool
	producerHook   func(ProducerRequest) error
	policies       map[string]Policies // by namespace or topic name
	partitioned    map[string]int      // partition count by partitioned topic name; replaced, never changed
}

// Start is New under the name tests read best with: it returns a broker
// that is listening and ready for clients.
func Start(opts ...Option) (*Broker, error) { return New(opts...) }

// New creates a broker, loads its data directory if one is configured, and
// starts listening on the configured address (a free loopback port by
// default).
func New(opts ...Option) (*Broker, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	b := &Broker{
		cfg:        cfg,
		log:        cfg.logger,
		conns:      map[*conn]struct{}{},
		topics:     map[string]*topic{},
		dropNext:   map[string]int{},
		nextLedger: 1,
		instance:   fmt.Sprintf("%06x", rand.Uint32()&0xffffff),
	}
	if err := b.load(); err != nil {
		return nil, err
	}
	if err := b.listen(cfg.addr); err != nil {
		_ = b.closeStore()
		return nil, err
	}
	if err := b.startAdmin(); err != nil {
		b.stop()
		_ = b.closeStore()
		return nil, err
	}
	return b, nil
}

// URL is the service URL for pulsar.ClientOptions, "pulsar://127.0.0.1:port".
// It stays the same across Restart.
func (b *Broker) URL() string {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	return "pulsar://" + b.addr
}

// Addr is the host:port the broker listens on.
func (b *Broker) Addr() string {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	return b.addr
}

func (b *Broker) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pulsartest: listen %s: %w", addr, err)
	}
	b.ln = ln
	b.addr = ln.Addr().String()
	b.running = true
	b.mu.Lock()
	b.stopping = false
	b.mu.Unlock()
	b.wg.Add(1)
	go b.acceptLoop(ln)
	b.log.Info("pulsartest: listening", "addr", b.addr)
	return nil
}

func (b *Broker) acceptLoop(ln net.Listener) {
	defer b.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.log.Warn("pulsartest: accept", "err", err)
			}
			return
		}
		c := newConn(b, nc)
		b.mu.Lock()
		if b.stopping {
			// stop has already dropped the connections it knew of; one
			// accepted just before the listener closed must not outlive it.
			b.mu.Unlock()
			_ = nc.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		b.wg.Add(2)
		go c.readLoop()
		go c.writeLoop()
	}
}

// stop closes the listener and every connection and waits for their
// goroutines. Connections are closed, not drained, so it never waits on a
// client.
func (b *Broker) stop() {
	if !b.running {
		return
	}
	b.running = false
	b.mu.Lock()
	b.stopping = true
	b.mu.Unlock()
	_ = b.ln.Close()
	b.DropConnections()
	b.wg.Wait()
}

// DropConnections closes every client connection at once, as a broker crash
// or a network cut would. Clients reconnect by themselves; the broker forgets
// their producers and consumers immediately, so the reconnect is not refused
// as a duplicate.
func (b *Broker) DropConnections() {
	b.mu.Lock()
	conns := make([]*conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
		b.detachLocked(c)
	}
	b.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
}

// Restart stops the broker and starts it again on the same port, keeping
// the stored data, as a broker process restart would. With a data directory
// the state is re-read from disk, which checks what was written durably.
// Each topic writes to a new ledger afterwards, so message ids continue with
// a higher ledger id and entry 0, like a real broker's. Producers, readers
// and unacknowledged deliveries do not survive; durable subscriptions
// resume after their mark-delete position.
func (b *Broker) Restart() error {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	if b.closed {
		return errors.New("pulsartest: restart of a closed broker")
	}
	b.stop()
	b.mu.Lock()
	var cerr error
	if b.store != nil {
		cerr = b.closeStoreLocked()
		b.topics = map[string]*topic{}
	} else {
		for _, t := range b.topics {
			t.resetForRestart()
		}
	}
	b.mu.Unlock()
	if cerr != nil {
		return fmt.Errorf("pulsartest: restart: close the store: %w", cerr)
	}
	if err := b.load(); err != nil {
		return err
	}
	if err := b.listen(b.addr); err != nil {
		b.log.Warn("pulsartest: old port taken, listening elsewhere", "err", err)
		return b.listen(b.cfg.addr)
	}
	return nil
}

// Close stops the broker and releases its files. It is idempotent and never
// hangs: connections are closed, not drained.
func (b *Broker) Close() error {
	b.lifeMu.Lock()
	defer b.lifeMu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.stop()
	_ = b.admin.Close()
	<-b.adminDone
	return b.closeStore()
}

func (b *Broker) closeStore() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closeStoreLocked()
}

func (b *Broker) closeStoreLocked() error {
	if b.store == nil {
		return nil
	}
	var errs []error
	for _, t := range b.topics {
		if t.file != nil {
			errs = append(errs, t.file.close())
			t.file = nil
		}
	}
	b.store = nil
	return errors.Join(errs...)
}

// load opens the data directory, if any, and reads every topic in it.
func (b *Broker) load() error {
	if b.cfg.dataDir == "" {
		return nil
	}
	st, topics, err := openStore(b.cfg.dataDir, b.log)
	if err != nil {
		return err
	}
	partitioned, err := st.loadPartitioned()
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.store = st
	b.partitioned = partitioned
	b.nextLedger = st.nextLedger
	for _, td := range topics {
		b.topics[td.name] = newTopicFromDisk(b, td)
	}
	return nil
}

// allocLedger hands out a ledger id never used before, durably when there
// is a data directory so ids keep growing across restarts.
func (b *Broker) allocLedgerLocked() (uint64, error) {
	id := b.nextLedger
	if b.store != nil {
		if err := b.store.saveNextLedger(id + 1); err != nil {
			return 0, err
		}
	}
	b.nextLedger = id + 1
	return id, nil
}
