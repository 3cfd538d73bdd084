package kafka

import (
	"context"
	"crypto/tls"
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

// The driver talks to brokers on its own connections (see broker.go for
// how many): segmentio's Transport refetches the metadata of every topic
// of the cluster each MetadataTTL and after every CreateTopics, which made
// each Open cost O(topics); its Conn.ReadBatch cannot read committed
// records; and its Client sends one request per partition. A connection is
// set up as segmentio's Transport sets up its own (TLS, ApiVersions, SASL
// through segmentio's protocol package); admin requests use segmentio's
// protocol codecs, Produce and Fetch the driver's own (produce.go,
// fetch.go), which batch many partitions into one request.

// API versions the driver's own codecs speak. Fetch 4 is the first with
// read_committed (and Kafka 4.0's floor, KIP-896), 11 the last before the
// flexible encoding and topic ids; Produce 3 is 4.0's floor, 8 the last
// before the flexible encoding; DescribeLogDirs 1 is 4.0's floor and the
// last before the flexible encoding.
const (
	fetchMinVersion   = 4
	fetchMaxVersion   = 11
	produceMinVersion = 3
	produceMaxVersion = 8
	logDirsVersion    = 1
)

// adminAPIs are the requests sent through segmentio's protocol codecs, at
// the highest version both sides know (as its Transport picks them).
var adminAPIs = []protocol.ApiKey{
	protocol.Metadata, protocol.ListOffsets, protocol.CreateTopics, protocol.DescribeConfigs,
	protocol.DeleteRecords, protocol.SaslHandshake, protocol.SaslAuthenticate,
}

// brokerConn is one connection to a broker, ready for requests.
type brokerConn struct {
	pc       *protocol.Conn
	addr     string
	clientID string
	fetchV   int16 // the Fetch version to send
	produceV int16 // the Produce version to send, -1 if the broker offers none the driver speaks
	logDirsV int16 // the DescribeLogDirs version to send, -1 if none
	corr     int32
	req      []byte // request buffer of the driver's own codecs
}

// notSentError marks an error that ended a request before any of it could
// reach a broker: a failed dial, TLS or SASL handshake, no known leader,
// or a request queued behind others that its caller abandoned. A produce
// that fails this way stored nothing.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// dial connects to the broker at addr and runs TLS, ApiVersions and SASL
// within DialTimeout (or ctx). Errors are notSentErrors.
func (c *client) dial(ctx context.Context, addr string) (*brokerConn, error) {
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &notSentError{fmt.Errorf("kafka: dial broker %s: %w", addr, err)}
	}
	bc, err := c.handshake(ctx, nc, addr)
	if err != nil {
		nc.Close() //nolint:errcheck // dropping the connection: nothing more is read or sent on it
		return nil, &notSentError{fmt.Errorf("kafka: connect to broker %s: %w", addr, err)}
	}
	return bc, nil
}

// handshake runs TLS, ApiVersions and SASL on a new connection within
// DialTimeout (or ctx).
func (c *client) handshake(ctx context.Context, nc net.Conn, addr string) (*brokerConn, error) {
	deadline := time.Now().Add(c.cfg.DialTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := nc.SetDeadline(deadline); err != nil {
		return nil, err
	}
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
	bc := &brokerConn{pc: pc, addr: addr, clientID: c.cfg.ClientID, fetchV: -1, produceV: -1, logDirsV: -1, corr: 1 << 20}
	versions := map[protocol.ApiKey]int16{}
	for _, k := range res.ApiKeys {
		key := protocol.ApiKey(k.ApiKey)
		switch key {
		case protocol.Fetch:
			bc.fetchV = pickVersion(k.MinVersion, k.MaxVersion, fetchMinVersion, fetchMaxVersion)
		case protocol.Produce:
			bc.produceV = pickVersion(k.MinVersion, k.MaxVersion, produceMinVersion, produceMaxVersion)
		case protocol.DescribeLogDirs:
			bc.logDirsV = pickVersion(k.MinVersion, k.MaxVersion, logDirsVersion, logDirsVersion)
		default:
			for _, a := range adminAPIs {
				if a == key {
					versions[key] = key.SelectVersion(k.MinVersion, k.MaxVersion)
				}
			}
		}
	}
	if bc.fetchV < 0 {
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
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return bc, nil
}

// pickVersion is the highest version in both [bmin, bmax] (the broker's)
// and [min, max] (the driver's), or -1.
func pickVersion(bmin, bmax, lo, hi int16) int16 {
	if bmax < lo || bmin > hi {
		return -1
	}
	return min(bmax, hi)
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

func (bc *brokerConn) Close() error { return bc.pc.Close() }

// roundTrip sends msg through segmentio's codecs and waits for the answer
// within timeout; ctx ending cuts it short (the connection is then
// unusable: an error from roundTrip always means drop it).
func (bc *brokerConn) roundTrip(ctx context.Context, timeout time.Duration, msg protocol.Message) (protocol.Message, error) {
	if err := bc.pc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = bc.pc.SetDeadline(time.Unix(1, 0)) })
	resp, err := bc.pc.RoundTrip(msg)
	if !stop() && err == nil {
		// ctx ended as the answer came: the answer stands, but the
		// deadline in the past must not stay for the next user.
		err = bc.pc.SetDeadline(time.Time{})
		if err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	return resp, nil
}

// nextCorr is the correlation id of the next request of the driver's own
// codecs (segmentio's RoundTrip counts from 1 on its own; these start far
// above it, so no answer is mistaken for another's).
func (bc *brokerConn) nextCorr() int32 {
	bc.corr++
	return bc.corr
}
