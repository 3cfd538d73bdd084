package adaptor_test

import (
	"context"
	"testing"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/kafka"
	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// TestConformanceKafka runs the harness through the adaptor over the Kafka
// driver and an in-process broker, with the adaptor's defaults (no
// write-ahead cache: other clients can produce to the topics) and kgo
// producing foreign records for the ForeignRecords case.
func TestConformanceKafka(t *testing.T) {
	c, err := kafkatest.Start(context.Background())
	if err != nil {
		t.Fatalf("kafkatest.Start: %v", err)
	}
	defer c.Close()
	walimplstest.Run(t, walimplstest.Harness{
		NewOpener: func() (walimpls.OpenerImpls, error) {
			return asDriver(adaptor.NewOpenerBuilder(kafka.NewBuilder(kafka.WithBrokers(c.Addrs()...))).Build())
		},
		ForeignAppend: kgoForeignAppend(t, c),
	})
}
