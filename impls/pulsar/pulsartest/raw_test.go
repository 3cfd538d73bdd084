package pulsartest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest/internal/pb"
)

// These tests speak the wire protocol directly, for what the real client
// never sends: malformed frames, unsupported commands, oversize frames.

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startRaw(t *testing.T, opts ...Option) (*Broker, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}, opts...)
	b, err := Start(opts...)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, logs
}

type rawClient struct {
	t  testing.TB
	nc net.Conn
}

func dialRaw(t testing.TB, b *Broker, handshake bool) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	r := &rawClient{t: t, nc: nc}
	if handshake {
		cmd := command(pb.BaseCommand_CONNECT)
		cmd.Connect = &pb.CommandConnect{ClientVersion: proto.String("raw"), ProtocolVersion: proto.Int32(20)}
		r.send(cmd, nil)
		if got := r.recv(); got.GetType() != pb.BaseCommand_CONNECTED {
			t.Fatalf("handshake answered with %v", got.GetType())
		}
	}
	return r
}

func (r *rawClient) send(cmd *pb.BaseCommand, payload []byte) {
	r.t.Helper()
	r.write(appendCommand(nil, cmd, payload))
}

func (r *rawClient) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// recv returns the next command other than a broker PING.
func (r *rawClient) recv() *pb.BaseCommand {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		frame, err := readFrame(r.nc, nil, 1<<24)
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		cmd, _, err := decodeFrame(frame)
		if err != nil {
			r.t.Fatalf("decode: %v", err)
		}
		if cmd.GetType() != pb.BaseCommand_PING {
			return cmd
		}
	}
}

// expectClosed reads until the broker closes the connection.
func (r *rawClient) expectClosed() {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, r.nc); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		r.t.Fatalf("connection not closed by the broker: %v", err)
	}
}

func (r *rawClient) ping() {
	r.t.Helper()
	r.send(command(pb.BaseCommand_PING), nil)
	if got := r.recv(); got.GetType() != pb.BaseCommand_PONG {
		r.t.Fatalf("PING answered with %v", got.GetType())
	}
}

func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	cases := map[string]func(r *rawClient){
		"command size beyond frame": func(r *rawClient) {
			r.write([]byte{0, 0, 0, 8, 0, 0, 0, 100, 1, 2, 3, 4})
		},
		"garbage protobuf": func(r *rawClient) {
			r.write([]byte{0, 0, 0, 7, 0, 0, 0, 3, 0xff, 0xff, 0xff})
		},
		"unknown command": func(r *rawClient) {
			r.send(command(pb.BaseCommand_NEW_TXN), nil)
		},
		"body missing": func(r *rawClient) {
			r.send(command(pb.BaseCommand_PRODUCER), nil)
		},
		"bad checksum": func(r *rawClient) {
			p := command(pb.BaseCommand_PRODUCER)
			p.Producer = &pb.CommandProducer{Topic: proto.String("persistent://a/b/c"), ProducerId: proto.Uint64(1), RequestId: proto.Uint64(1)}
			r.send(p, nil)
			if got := r.recv(); got.GetType() != pb.BaseCommand_PRODUCER_SUCCESS {
				r.t.Fatalf("PRODUCER answered with %v", got)
			}
			payload := encodePayload(&pb.MessageMetadata{
				ProducerName: proto.String("x"), SequenceId: proto.Uint64(0), PublishTime: proto.Uint64(1),
			}, []byte("hello"))
			payload[len(payload)-1] ^= 1
			s := command(pb.BaseCommand_SEND)
			s.Send = &pb.CommandSend{ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(0)}
			r.send(s, payload)
		},
		"oversize frame": func(r *rawClient) {
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], 1024+framePadding+1)
			r.write(hdr[:])
		},
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			b, logs := startRaw(t, WithMaxMessageSize(1024))
			good := dialRaw(t, b, true)
			evil := dialRaw(t, b, true)
			bad(evil)
			evil.expectClosed()
			good.ping()
			if !strings.Contains(logs.String(), "level=ERROR") {
				t.Fatalf("no error logged for the closed connection; logs:\n%s", logs)
			}
		})
	}
}

func TestFirstFrameMustBeConnect(t *testing.T) {
	b, _ := startRaw(t)
	r := dialRaw(t, b, false)
	r.send(command(pb.BaseCommand_PING), nil)
	r.expectClosed()
}

func TestUnsupportedRequestsAreAnswered(t *testing.T) {
	b, _ := startRaw(t)
	r := dialRaw(t, b, true)

	gs := command(pb.BaseCommand_GET_SCHEMA)
	gs.GetSchema = &pb.CommandGetSchema{RequestId: proto.Uint64(7), Topic: proto.String("persistent://a/b/c")}
	r.send(gs, nil)
	if got := r.recv(); got.GetGetSchemaResponse().GetRequestId() != 7 || got.GetGetSchemaResponse().ErrorCode == nil {
		t.Fatalf("GET_SCHEMA answered with %v", got)
	}

	st := command(pb.BaseCommand_CONSUMER_STATS)
	st.ConsumerStats = &pb.CommandConsumerStats{RequestId: proto.Uint64(8), ConsumerId: proto.Uint64(1)}
	r.send(st, nil)
	if got := r.recv(); got.GetConsumerStatsResponse().GetRequestId() != 8 || got.GetConsumerStatsResponse().ErrorCode == nil {
		t.Fatalf("CONSUMER_STATS answered with %v", got)
	}

	// A request the broker has no typed answer for gets an ERROR.
	sk := command(pb.BaseCommand_SEEK)
	sk.Seek = &pb.CommandSeek{ConsumerId: proto.Uint64(99), RequestId: proto.Uint64(9)}
	r.send(sk, nil)
	if got := r.recv(); got.GetError().GetRequestId() != 9 {
		t.Fatalf("SEEK for an unknown consumer answered with %v", got)
	}
}

func TestBrokerPingsAndDropsSilentClients(t *testing.T) {
	b, _ := startRaw(t, WithKeepAlive(200*time.Millisecond))
	r := dialRaw(t, b, true)
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	frame, err := readFrame(r.nc, nil, 1<<20)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if cmd, _, _ := decodeFrame(frame); cmd.GetType() != pb.BaseCommand_PING {
		t.Fatalf("idle connection got %v, want PING", cmd.GetType())
	}
	// Never answering, the client is dropped after twice the interval.
	r.expectClosed()
}

func TestRawSubscribeUnsubscribe(t *testing.T) {
	b, _ := startRaw(t)
	r := dialRaw(t, b, true)
	const topic = "persistent://public/default/raw"
	s := command(pb.BaseCommand_SUBSCRIBE)
	s.Subscribe = &pb.CommandSubscribe{
		Topic: proto.String(topic), Subscription: proto.String("sub"),
		SubType: pb.CommandSubscribe_Exclusive.Enum(), ConsumerId: proto.Uint64(1), RequestId: proto.Uint64(1),
	}
	r.send(s, nil)
	if got := r.recv(); got.GetSuccess().GetRequestId() != 1 {
		t.Fatalf("SUBSCRIBE answered with %v", got)
	}
	u := command(pb.BaseCommand_UNSUBSCRIBE)
	u.Unsubscribe = &pb.CommandUnsubscribe{ConsumerId: proto.Uint64(1), RequestId: proto.Uint64(2)}
	r.send(u, nil)
	if got := r.recv(); got.GetSuccess().GetRequestId() != 2 {
		t.Fatalf("UNSUBSCRIBE answered with %v", got)
	}
	b.mu.Lock()
	_, exists := b.topics[topic].subs["sub"]
	b.mu.Unlock()
	if exists {
		t.Fatal("subscription still exists after UNSUBSCRIBE")
	}
}

func TestExclusiveProducerEpochAndFencing(t *testing.T) {
	b, _ := startRaw(t)
	r := dialRaw(t, b, true)
	const topic = "persistent://public/default/epoch"
	reqID := uint64(0)
	create := func(producerID uint64, epoch *uint64) *pb.BaseCommand {
		reqID++
		p := command(pb.BaseCommand_PRODUCER)
		p.Producer = &pb.CommandProducer{
			Topic: proto.String(topic), ProducerId: proto.Uint64(producerID), RequestId: proto.Uint64(reqID),
			ProducerAccessMode: pb.ProducerAccessMode_Exclusive.Enum(), TopicEpoch: epoch,
		}
		r.send(p, nil)
		return r.recv()
	}
	closeProducer := func(producerID uint64) {
		reqID++
		c := command(pb.BaseCommand_CLOSE_PRODUCER)
		c.CloseProducer = &pb.CommandCloseProducer{ProducerId: proto.Uint64(producerID), RequestId: proto.Uint64(reqID)}
		r.send(c, nil)
		if got := r.recv(); got.GetSuccess() == nil {
			t.Fatalf("CLOSE_PRODUCER answered with %v", got)
		}
	}
	first := create(1, nil)
	if first.GetProducerSuccess().GetTopicEpoch() != 1 {
		t.Fatalf("first exclusive producer: %v, want topic_epoch 1", first)
	}
	if busy := create(2, nil); busy.GetError().GetError() != pb.ServerError_ProducerFenced {
		t.Fatalf("second exclusive producer: %v, want ProducerFenced", busy)
	}
	closeProducer(1)
	if second := create(3, nil); second.GetProducerSuccess().GetTopicEpoch() != 2 {
		t.Fatalf("next exclusive producer: %v, want topic_epoch 2", second)
	}
	closeProducer(3)
	// The first producer coming back with its old epoch was replaced.
	if fenced := create(4, proto.Uint64(1)); fenced.GetError().GetError() != pb.ServerError_ProducerFenced {
		t.Fatalf("producer with a stale epoch: %v, want ProducerFenced", fenced)
	}
	if again := create(5, proto.Uint64(2)); again.GetProducerSuccess().GetTopicEpoch() != 2 {
		t.Fatalf("producer with the current epoch: %v, want success at epoch 2", again)
	}
}

func TestCloseNeverHangs(t *testing.T) {
	b, err := Start(WithDataDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	// One client stalls in the middle of a frame, one never reads.
	stalled := dialRaw(t, b, true)
	stalled.write([]byte{0, 0, 0, 100, 0, 0})
	mute := dialRaw(t, b, true)
	for range 1000 {
		mute.send(command(pb.BaseCommand_PING), nil)
	}
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := b.Restart(); err == nil {
		t.Fatal("restart of a closed broker succeeded")
	}
}
