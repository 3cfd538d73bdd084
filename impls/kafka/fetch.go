package kafka

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/apiversions"
	"github.com/segmentio/kafka-go/protocol/saslauthenticate"
	"github.com/segmentio/kafka-go/protocol/saslhandshake"
	"github.com/segmentio/kafka-go/sasl"
)

// Scans fetch with their own connection to the partition leader and their
// own Fetch codec, because segmentio has no read path that a
// read_committed consumer needs: Conn.ReadBatch drops the response's
// aborted-transactions list and delivers control records as messages,
// Client.Fetch decodes every record into pages and header slices (and
// still returns aborted records), and a long-polling fetch on the shared
// Transport would hold up the appends queued behind it on that
// connection (a broker answers one request per connection at a time).
//
// The connection is set up with segmentio's protocol package (ApiVersions,
// then SASL), as its Transport does; fetches are encoded and decoded here.

// Fetch versions the driver speaks: 4 is the first with read_committed
// (and Kafka 4.0's floor, KIP-896); 11 is the last before the flexible
// encoding and topic ids.
const (
	fetchMinVersion = 4
	fetchMaxVersion = 11
)

// Isolation levels: read_committed makes the broker return records only
// up to the last stable offset, with the aborted transactions of the
// range; read_uncommitted returns everything up to the high watermark
// (what the driver's own log lookups need: its batches may follow an open
// transaction of another client).
const (
	readUncommitted = 0
	readCommitted   = 1
)

// fetchConn is one scanner's connection to a partition leader.
type fetchConn struct {
	pc       *protocol.Conn
	clientID string
	version  int16
	corr     int32
	req      []byte
	resp     []byte
}

// abortedTxn is an entry of a fetch response's aborted-transactions list:
// producer pid's transaction from firstOffset on was aborted.
type abortedTxn struct {
	pid         int64
	firstOffset int64
}

// fetched is one partition's answer to a fetch.
type fetched struct {
	hw, lso, logStart int64
	aborted           []abortedTxn
	records           []byte // record batches; valid until the next fetch
}

// dialFetch connects to the leader of topic's partition 0.
func (c *client) dialFetch(ctx context.Context, topic string) (*fetchConn, error) {
	addr, err := c.leaderAddr(ctx, topic)
	if err != nil {
		return nil, err
	}
	return c.dialAddr(ctx, topic, addr)
}

// dialAddr connects to the broker at addr, the leader of topic.
func (c *client) dialAddr(ctx context.Context, topic, addr string) (*fetchConn, error) {
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kafka: dial leader of %s at %s: %w", topic, addr, err)
	}
	fc, err := c.handshake(ctx, nc, addr)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("kafka: connect to leader of %s at %s: %w", topic, addr, err)
	}
	return fc, nil
}

// leaderAddr is the host:port of the leader of topic's partition 0, from
// the Transport's metadata.
func (c *client) leaderAddr(ctx context.Context, topic string) (string, error) {
	meta, err := c.kc.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return "", fmt.Errorf("kafka: metadata of %s: %w", topic, err)
	}
	for _, t := range meta.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return "", fmt.Errorf("kafka: metadata of %s: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			if p.ID != 0 {
				continue
			}
			if p.Error != nil {
				return "", fmt.Errorf("kafka: metadata of %s: %w", topic, p.Error)
			}
			if p.Leader.Host == "" || p.Leader.ID < 0 {
				return "", fmt.Errorf("kafka: metadata of %s: %w", topic, kafkago.LeaderNotAvailable)
			}
			return net.JoinHostPort(p.Leader.Host, strconv.Itoa(p.Leader.Port)), nil
		}
	}
	return "", fmt.Errorf("kafka: metadata of %s: %w", topic, kafkago.UnknownTopicOrPartition)
}

// handshake runs TLS, ApiVersions and SASL on a new connection within
// DialTimeout (or ctx).
func (c *client) handshake(ctx context.Context, nc net.Conn, addr string) (*fetchConn, error) {
	deadline := time.Now().Add(c.cfg.DialTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	nc.SetDeadline(deadline)
	host, port, _ := net.SplitHostPort(addr)
	if c.tls != nil {
		cfg := c.tls
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, err
		}
		nc = tc
	}
	pc := protocol.NewConn(nc, c.cfg.ClientID)
	r, err := pc.RoundTrip(new(apiversions.Request))
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	res := r.(*apiversions.Response)
	if res.ErrorCode != 0 {
		return nil, fmt.Errorf("api versions: %w", kafkago.Error(res.ErrorCode))
	}
	versions := map[protocol.ApiKey]int16{}
	fetchVersion := int16(-1)
	for _, k := range res.ApiKeys {
		key := protocol.ApiKey(k.ApiKey)
		switch key {
		case protocol.Fetch:
			if k.MaxVersion >= fetchMinVersion && k.MinVersion <= fetchMaxVersion {
				fetchVersion = min(k.MaxVersion, fetchMaxVersion)
			}
		case protocol.SaslHandshake, protocol.SaslAuthenticate:
			versions[key] = key.SelectVersion(k.MinVersion, k.MaxVersion)
		}
	}
	if fetchVersion < 0 {
		return nil, fmt.Errorf("the broker offers no Fetch version in %d..%d", fetchMinVersion, fetchMaxVersion)
	}
	pc.SetVersions(versions)
	if c.mech != nil {
		p, _ := strconv.Atoi(port)
		sctx := sasl.WithMetadata(ctx, &sasl.Metadata{Host: host, Port: p})
		if err := authenticate(sctx, pc, c.mech); err != nil {
			return nil, ctxErr(ctx, err)
		}
	}
	nc.SetDeadline(time.Time{})
	return &fetchConn{pc: pc, clientID: c.cfg.ClientID, version: fetchVersion, corr: 1 << 20}, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// authenticate runs a SASL exchange (SaslHandshake, then SaslAuthenticate
// until the mechanism is done).
func authenticate(ctx context.Context, pc *protocol.Conn, mech sasl.Mechanism) error {
	r, err := pc.RoundTrip(&saslhandshake.Request{Mechanism: mech.Name()})
	if err != nil {
		return err
	}
	if code := r.(*saslhandshake.Response).ErrorCode; code != 0 {
		return fmt.Errorf("sasl handshake: %w", kafkago.Error(code))
	}
	sess, state, err := mech.Start(ctx)
	if err != nil {
		return err
	}
	for done := false; !done; {
		r, err := pc.RoundTrip(&saslauthenticate.Request{AuthBytes: state})
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return kafkago.SASLAuthenticationFailed
			}
			return err
		}
		res := r.(*saslauthenticate.Response)
		if res.ErrorCode != 0 {
			return fmt.Errorf("sasl authenticate: %s: %w", res.ErrorMessage, kafkago.Error(res.ErrorCode))
		}
		if done, state, err = sess.Next(ctx, res.AuthBytes); err != nil {
			return err
		}
	}
	return nil
}

func (fc *fetchConn) Close() error { return fc.pc.Close() }

// fetchLimits are a fetch's wait and size bounds and its isolation level.
type fetchLimits struct {
	maxWait   time.Duration
	maxBytes  int32
	isolation int8
}

// fetch asks for partition 0 of topic from offset on and waits for the
// answer until deadline.
func (fc *fetchConn) fetch(topic string, offset int64, lim fetchLimits, deadline time.Time) (fetched, error) {
	fc.corr++
	fc.req = encodeFetch(fc.req[:0], fc.version, fc.corr, fc.clientID, topic, offset, lim)
	fc.pc.SetDeadline(deadline)
	if _, err := fc.pc.Write(fc.req); err != nil {
		return fetched{}, err
	}
	var size [4]byte
	if _, err := io.ReadFull(fc.pc, size[:]); err != nil {
		return fetched{}, err
	}
	n := int(int32(binary.BigEndian.Uint32(size[:])))
	if n < 4 {
		return fetched{}, fmt.Errorf("kafka: fetch response of %d bytes", n)
	}
	if cap(fc.resp) < n {
		fc.resp = make([]byte, n)
	}
	fc.resp = fc.resp[:n]
	if _, err := io.ReadFull(fc.pc, fc.resp); err != nil {
		return fetched{}, err
	}
	return decodeFetch(fc.resp, fc.version, fc.corr, topic)
}

// encodeFetch appends a Fetch request (header v1) for one partition.
func encodeFetch(dst []byte, version int16, corr int32, clientID, topic string, offset int64, lim fetchLimits) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, 0) // size, patched below
	dst = binary.BigEndian.AppendUint16(dst, uint16(protocol.Fetch))
	dst = binary.BigEndian.AppendUint16(dst, uint16(version))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	dst = appendString16(dst, clientID)
	dst = binary.BigEndian.AppendUint32(dst, 0xffffffff) // replica id -1: a consumer
	dst = binary.BigEndian.AppendUint32(dst, uint32(lim.maxWait/time.Millisecond))
	dst = binary.BigEndian.AppendUint32(dst, 1) // min bytes
	dst = binary.BigEndian.AppendUint32(dst, uint32(lim.maxBytes))
	dst = append(dst, byte(lim.isolation))
	if version >= 7 {
		dst = binary.BigEndian.AppendUint32(dst, 0)          // session id: none
		dst = binary.BigEndian.AppendUint32(dst, 0xffffffff) // session epoch -1: a full fetch, no session
	}
	dst = binary.BigEndian.AppendUint32(dst, 1) // one topic
	dst = appendString16(dst, topic)
	dst = binary.BigEndian.AppendUint32(dst, 1) // one partition
	dst = binary.BigEndian.AppendUint32(dst, 0) // partition 0
	if version >= 9 {
		dst = binary.BigEndian.AppendUint32(dst, 0xffffffff) // current leader epoch: unknown
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(offset))
	if version >= 5 {
		dst = binary.BigEndian.AppendUint64(dst, 0xffffffffffffffff) // log start offset: a consumer's -1
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(lim.maxBytes))
	if version >= 7 {
		dst = binary.BigEndian.AppendUint32(dst, 0) // no forgotten topics
	}
	if version >= 11 {
		dst = appendString16(dst, "") // rack id
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

func appendString16(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// decodeFetch parses a Fetch response (after its size) for partition 0 of
// topic. A partition error comes back as a kafkago.Error.
func decodeFetch(b []byte, version int16, corr int32, topic string) (fetched, error) {
	r := wire{b: b}
	if got := r.int32(); got != corr {
		return fetched{}, fmt.Errorf("kafka: fetch response for correlation id %d, want %d", got, corr)
	}
	r.int32() // throttle time
	if version >= 7 {
		code := r.int16()
		r.int32() // session id
		if code != 0 && r.err == nil {
			return fetched{}, fmt.Errorf("kafka: fetch %s: %w", topic, kafkago.Error(code))
		}
	}
	for range r.arrayLen(6) {
		name := r.string16()
		for range r.arrayLen(4 + 2 + 8 + 8 + 4) {
			var f fetched
			id := r.int32()
			code := r.int16()
			f.hw = r.int64()
			f.lso = r.int64()
			f.logStart = -1
			if version >= 5 {
				f.logStart = r.int64()
			}
			for range r.arrayLen(16) {
				f.aborted = append(f.aborted, abortedTxn{pid: r.int64(), firstOffset: r.int64()})
			}
			if version >= 11 {
				r.int32() // preferred read replica
			}
			f.records = r.bytes32()
			if r.err != nil {
				break
			}
			if string(name) != topic || id != 0 {
				continue
			}
			if code != 0 {
				return fetched{}, fmt.Errorf("kafka: fetch %s: %w", topic, kafkago.Error(code))
			}
			return f, nil
		}
	}
	if r.err != nil {
		return fetched{}, fmt.Errorf("kafka: fetch response of %s: %w", topic, r.err)
	}
	return fetched{}, fmt.Errorf("kafka: fetch response without %s partition 0", topic)
}
