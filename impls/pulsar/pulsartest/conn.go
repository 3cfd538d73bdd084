package pulsartest

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest/internal/pb"
)

const (
	serverVersion   = "pulsartest"
	protocolVersion = int32(pb.ProtocolVersion_v20)
)

// conn is one client connection: a read loop that handles commands in order
// (which keeps receipts in send order) and a write loop that flushes queued
// frames, so a slow client never blocks the broker lock.
type conn struct {
	b   *Broker
	nc  net.Conn
	log *slog.Logger

	wmu  sync.Mutex
	out  []byte        // frames waiting for the write loop
	wake chan struct{} // cap 1: out is non-empty

	// coalesce is set by the read loop while more whole frames are
	// buffered: writes then skip waking the write loop, and the read loop
	// wakes it once before it could block.
	coalesce atomic.Bool

	done     chan struct{}
	doneOnce sync.Once

	// Guarded by b.mu.
	producers map[uint64]*producer
	consumers map[uint64]*consumer
	held      []*pb.BaseCommand // receipts held by PauseReceipts
}

func newConn(b *Broker, nc net.Conn) *conn {
	return &conn{
		b:         b,
		nc:        nc,
		log:       b.log.With("remote", nc.RemoteAddr().String()),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		producers: map[uint64]*producer{},
		consumers: map[uint64]*consumer{},
	}
}

// shutdown closes the socket and stops both loops. Idempotent.
func (c *conn) shutdown() {
	c.doneOnce.Do(func() {
		close(c.done)
		_ = c.nc.Close()
	})
}

// write queues a frame. It never blocks on the network.
func (c *conn) write(cmd *pb.BaseCommand, payload []byte) {
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("pulsartest: sending", "cmd", cmd.GetType().String(), "body", cmd.String())
	}
	c.wmu.Lock()
	c.out = appendCommand(c.out, cmd, payload)
	c.wmu.Unlock()
	if !c.coalesce.Load() {
		c.kick()
	}
}

// kick wakes the write loop.
func (c *conn) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// frameBuffered reports whether rd holds a whole frame, so reading it cannot
// block.
func frameBuffered(rd *bufio.Reader) bool {
	n := rd.Buffered()
	if n < 4 {
		return false
	}
	hdr, err := rd.Peek(4)
	return err == nil && uint64(n) >= 4+uint64(binary.BigEndian.Uint32(hdr))
}

func (c *conn) writeLoop() {
	defer c.b.wg.Done()
	var ping <-chan time.Time
	if ka := c.b.cfg.keepAlive; ka > 0 {
		t := time.NewTicker(ka)
		defer t.Stop()
		ping = t.C
	}
	var buf []byte
	for {
		select {
		case <-c.done:
			return
		case <-ping:
			c.write(command(pb.BaseCommand_PING), nil)
			continue
		case <-c.wake:
		}
		c.wmu.Lock()
		buf, c.out = c.out, buf[:0]
		c.wmu.Unlock()
		if _, err := c.nc.Write(buf); err != nil {
			c.log.Debug("pulsartest: write failed", "err", err)
			c.shutdown()
			return
		}
	}
}

func (c *conn) readLoop() {
	defer c.b.wg.Done()
	err := c.serve()
	select {
	case <-c.done:
		// Closed by the broker (drop, restart, close): not an error.
	default:
		var drop errDropConnection
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET):
			c.log.Debug("pulsartest: client closed connection")
		case errors.Is(err, os.ErrDeadlineExceeded):
			c.log.Warn("pulsartest: dropping silent client", "keepalive", c.b.cfg.keepAlive)
		case errors.As(err, &drop):
			c.log.Info("pulsartest: dropping connection", "reason", drop.reason)
		default:
			c.log.Error("pulsartest: closing connection", "err", err)
		}
	}
	// Forget the connection's producers and consumers before the client can
	// see the close: a real broker cleans up as its event loop sees the
	// channel go inactive, before the client has reconnected, so the
	// reconnect of an exclusive producer never meets its own old
	// registration (which would fence it).
	c.b.mu.Lock()
	c.b.detachLocked(c)
	c.b.mu.Unlock()
	c.shutdown()
}

func (c *conn) serve() error {
	maxFrame := c.b.cfg.maxMessageSize + framePadding
	// Buffered: a pipelining client puts many small frames in one segment,
	// and two reads per frame straight from the socket would cost two
	// syscalls each.
	rd := bufio.NewReaderSize(c.nc, 64<<10)
	var buf []byte
	handshaken := false
	for {
		// While whole frames wait in the buffer, answers accumulate and go
		// out in one write; before the loop could block on the socket, they
		// are flushed.
		if frameBuffered(rd) {
			c.coalesce.Store(true)
		} else {
			c.coalesce.Store(false)
			c.kick()
		}
		if ka := c.b.cfg.keepAlive; ka > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(2 * ka))
		}
		frame, err := readFrame(rd, buf, maxFrame)
		if err != nil {
			return err
		}
		buf = frame[:0]
		cmd, payload, err := decodeFrame(frame)
		if err != nil {
			return err
		}
		if !handshaken {
			if cmd.GetType() != pb.BaseCommand_CONNECT || cmd.Connect == nil {
				return fmt.Errorf("pulsartest: expected CONNECT, got %v", cmd.GetType())
			}
			c.handleConnect(cmd.Connect)
			handshaken = true
			continue
		}
		if err := c.handle(cmd, payload); err != nil {
			return err
		}
	}
}

func (c *conn) handleConnect(cc *pb.CommandConnect) {
	v := min(cc.GetProtocolVersion(), protocolVersion)
	cmd := command(pb.BaseCommand_CONNECTED)
	cmd.Connected = &pb.CommandConnected{
		ServerVersion:   proto.String(serverVersion),
		ProtocolVersion: proto.Int32(v),
		MaxMessageSize:  proto.Int32(int32(c.b.cfg.maxMessageSize)),
	}
	c.write(cmd, nil)
	c.log.Debug("pulsartest: connected", "client", cc.GetClientVersion(), "protocol", v)
}

func command(t pb.BaseCommand_Type) *pb.BaseCommand {
	return &pb.BaseCommand{Type: t.Enum()}
}

// errMissing is returned when a command's type has no matching body: the
// frame is malformed and the connection is closed.
func errMissing(t pb.BaseCommand_Type) error {
	return fmt.Errorf("pulsartest: %v command without its body", t)
}

// handle runs one command. An error closes the connection.
func (c *conn) handle(cmd *pb.BaseCommand, payload []byte) error {
	b := c.b
	t := cmd.GetType()
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("pulsartest: received", "cmd", t.String(), "body", cmd.String())
	}
	switch t {
	case pb.BaseCommand_PING:
		c.write(command(pb.BaseCommand_PONG), nil)
		return nil
	case pb.BaseCommand_PONG, pb.BaseCommand_AUTH_RESPONSE:
		return nil
	case pb.BaseCommand_LOOKUP:
		if cmd.LookupTopic == nil {
			return errMissing(t)
		}
		c.handleLookup(cmd.LookupTopic)
		return nil
	case pb.BaseCommand_PARTITIONED_METADATA:
		if cmd.PartitionMetadata == nil {
			return errMissing(t)
		}
		b.mu.Lock()
		n := b.partitionsLocked(cmd.PartitionMetadata.GetTopic())
		b.mu.Unlock()
		r := command(pb.BaseCommand_PARTITIONED_METADATA_RESPONSE)
		r.PartitionMetadataResponse = &pb.CommandPartitionedTopicMetadataResponse{
			RequestId:  proto.Uint64(cmd.PartitionMetadata.GetRequestId()),
			Partitions: proto.Uint32(uint32(n)),
			Response:   pb.CommandPartitionedTopicMetadataResponse_Success.Enum(),
		}
		c.write(r, nil)
		return nil
	case pb.BaseCommand_PRODUCER:
		if cmd.Producer == nil {
			return errMissing(t)
		}
		b.handleProducer(c, cmd.Producer)
		return nil
	case pb.BaseCommand_SEND:
		if cmd.Send == nil {
			return errMissing(t)
		}
		return b.handleSend(c, cmd.Send, payload)
	case pb.BaseCommand_CLOSE_PRODUCER:
		if cmd.CloseProducer == nil {
			return errMissing(t)
		}
		b.handleCloseProducer(c, cmd.CloseProducer)
		return nil
	case pb.BaseCommand_SUBSCRIBE:
		if cmd.Subscribe == nil {
			return errMissing(t)
		}
		b.handleSubscribe(c, cmd.Subscribe)
		return nil
	case pb.BaseCommand_FLOW:
		if cmd.Flow == nil {
			return errMissing(t)
		}
		b.handleFlow(c, cmd.Flow)
		return nil
	case pb.BaseCommand_ACK:
		if cmd.Ack == nil {
			return errMissing(t)
		}
		b.handleAck(c, cmd.Ack)
		return nil
	case pb.BaseCommand_REDELIVER_UNACKNOWLEDGED_MESSAGES:
		if cmd.RedeliverUnacknowledgedMessages == nil {
			return errMissing(t)
		}
		b.handleRedeliver(c, cmd.RedeliverUnacknowledgedMessages)
		return nil
	case pb.BaseCommand_SEEK:
		if cmd.Seek == nil {
			return errMissing(t)
		}
		b.handleSeek(c, cmd.Seek)
		return nil
	case pb.BaseCommand_GET_LAST_MESSAGE_ID:
		if cmd.GetLastMessageId == nil {
			return errMissing(t)
		}
		b.handleGetLastMessageID(c, cmd.GetLastMessageId)
		return nil
	case pb.BaseCommand_CLOSE_CONSUMER:
		if cmd.CloseConsumer == nil {
			return errMissing(t)
		}
		b.handleCloseConsumer(c, cmd.CloseConsumer)
		return nil
	case pb.BaseCommand_UNSUBSCRIBE:
		if cmd.Unsubscribe == nil {
			return errMissing(t)
		}
		b.handleUnsubscribe(c, cmd.Unsubscribe)
		return nil
	case pb.BaseCommand_GET_TOPICS_OF_NAMESPACE:
		if cmd.GetTopicsOfNamespace == nil {
			return errMissing(t)
		}
		b.handleTopicsOfNamespace(c, cmd.GetTopicsOfNamespace)
		return nil
	}
	return c.refuse(cmd)
}

// refuse answers a command pulsartest does not implement. Where the client
// waits for a typed response it gets that response with an error code, so
// it fails fast instead of timing out; any other request gets an ERROR; a
// command without a request id cannot be answered and closes the
// connection.
func (c *conn) refuse(cmd *pb.BaseCommand) error {
	const msg = "not supported by pulsartest"
	notAllowed := pb.ServerError_NotAllowedError.Enum()
	t := cmd.GetType()
	switch {
	case t == pb.BaseCommand_GET_SCHEMA && cmd.GetSchema != nil:
		r := command(pb.BaseCommand_GET_SCHEMA_RESPONSE)
		r.GetSchemaResponse = &pb.CommandGetSchemaResponse{
			RequestId:    proto.Uint64(cmd.GetSchema.GetRequestId()),
			ErrorCode:    pb.ServerError_TopicNotFound.Enum(),
			ErrorMessage: proto.String("schema not found: " + msg),
		}
		c.write(r, nil)
		return nil
	case t == pb.BaseCommand_GET_OR_CREATE_SCHEMA && cmd.GetOrCreateSchema != nil:
		r := command(pb.BaseCommand_GET_OR_CREATE_SCHEMA_RESPONSE)
		r.GetOrCreateSchemaResponse = &pb.CommandGetOrCreateSchemaResponse{
			RequestId:    proto.Uint64(cmd.GetOrCreateSchema.GetRequestId()),
			ErrorCode:    notAllowed,
			ErrorMessage: proto.String("schemas are " + msg),
		}
		c.write(r, nil)
		return nil
	case t == pb.BaseCommand_CONSUMER_STATS && cmd.ConsumerStats != nil:
		r := command(pb.BaseCommand_CONSUMER_STATS_RESPONSE)
		r.ConsumerStatsResponse = &pb.CommandConsumerStatsResponse{
			RequestId:    proto.Uint64(cmd.ConsumerStats.GetRequestId()),
			ErrorCode:    notAllowed,
			ErrorMessage: proto.String("consumer stats are " + msg),
		}
		c.write(r, nil)
		return nil
	case t == pb.BaseCommand_TC_CLIENT_CONNECT_REQUEST && cmd.TcClientConnectRequest != nil:
		r := command(pb.BaseCommand_TC_CLIENT_CONNECT_RESPONSE)
		r.TcClientConnectResponse = &pb.CommandTcClientConnectResponse{
			RequestId: proto.Uint64(cmd.TcClientConnectRequest.GetRequestId()),
			Error:     notAllowed,
			Message:   proto.String("transactions are " + msg),
		}
		c.write(r, nil)
		return nil
	}
	if id, ok := requestID(cmd); ok {
		c.log.Warn("pulsartest: refusing unsupported command", "type", t.String())
		c.writeError(id, pb.ServerError_NotAllowedError, fmt.Sprintf("%v is %s", t, msg))
		return nil
	}
	return fmt.Errorf("pulsartest: unsupported command %v", t)
}

// requestID finds the request_id of whichever command body is set, so an
// unsupported request can be refused instead of left unanswered.
func requestID(cmd *pb.BaseCommand) (uint64, bool) {
	var id uint64
	found := false
	cmd.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		sub := v.Message()
		f := sub.Descriptor().Fields().ByName("request_id")
		if f != nil && sub.Has(f) {
			id, found = sub.Get(f).Uint(), true
			return false
		}
		return true
	})
	return id, found
}

func (c *conn) writeError(requestID uint64, code pb.ServerError, msg string) {
	r := command(pb.BaseCommand_ERROR)
	r.Error = &pb.CommandError{
		RequestId: proto.Uint64(requestID),
		Error:     code.Enum(),
		Message:   proto.String(msg),
	}
	c.write(r, nil)
}

func (c *conn) writeSuccess(requestID uint64) {
	r := command(pb.BaseCommand_SUCCESS)
	r.Success = &pb.CommandSuccess{RequestId: proto.Uint64(requestID)}
	c.write(r, nil)
}

func (c *conn) handleLookup(l *pb.CommandLookupTopic) {
	r := command(pb.BaseCommand_LOOKUP_RESPONSE)
	r.LookupTopicResponse = &pb.CommandLookupTopicResponse{
		RequestId: proto.Uint64(l.GetRequestId()),
		// Always this broker, authoritative, so the client never redirects.
		BrokerServiceUrl: proto.String("pulsar://" + c.nc.LocalAddr().String()),
		Response:         pb.CommandLookupTopicResponse_Connect.Enum(),
		Authoritative:    proto.Bool(true),
	}
	c.write(r, nil)
}
