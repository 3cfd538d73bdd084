package pulsartest

import (
	"bufio"
	"crypto/rand"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest/internal/pb"
)

// BenchmarkBrokerRawSend measures the broker alone: one connection pipelines
// SENDs of 1 KiB messages (pre-encoded) while another goroutine reads the
// receipts, so the number is what the broker sustains, not the client.
func BenchmarkBrokerRawSend(b *testing.B) {
	br, err := Start()
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	r := dialRaw(b, br, true)
	defer r.nc.Close()
	p := command(pb.BaseCommand_PRODUCER)
	p.Producer = &pb.CommandProducer{Topic: proto.String("persistent://public/default/raw-bench"), ProducerId: proto.Uint64(1), RequestId: proto.Uint64(1)}
	r.send(p, nil)
	if got := r.recv(); got.GetProducerSuccess() == nil {
		b.Fatalf("PRODUCER: %v", got)
	}
	body := make([]byte, 1024)
	_, _ = rand.Read(body)
	hp := encodePayload(&pb.MessageMetadata{ProducerName: proto.String("raw"), SequenceId: proto.Uint64(0), PublishTime: proto.Uint64(1)}, body)
	s := command(pb.BaseCommand_SEND)
	s.Send = &pb.CommandSend{ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(0)}
	frame := appendCommand(nil, s, hp)

	done := make(chan error, 1)
	go func() {
		rd := bufio.NewReaderSize(r.nc, 1<<16)
		var buf []byte
		for range b.N {
			f, err := readFrame(rd, buf, 1<<20)
			if err != nil {
				done <- err
				return
			}
			buf = f[:0]
		}
		done <- nil
	}()
	b.SetBytes(1024)
	b.ResetTimer()
	start := time.Now()
	w := bufio.NewWriterSize(r.nc, 1<<16)
	for range b.N {
		if _, err := w.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
