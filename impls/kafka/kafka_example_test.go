package kafka_test

import (
	"context"
	"fmt"

	"github.com/mqwal/mqwal/impls/kafka"
	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// Open a channel on a Kafka cluster (here an in-process one), append and
// read back. Offsets 0 and 1 hold the fence batch of term 1's Open, which
// scanners skip.
func ExampleNewBuilder() {
	ctx := context.Background()
	cluster, err := kafkatest.Start(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()

	opener, err := kafka.NewBuilder(kafka.WithBrokers(cluster.Addrs()...), kafka.WithTopicPrefix("wal.")).Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opener.Close()
	w, err := opener.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "orders", Term: 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	id, err := w.Append(ctx, message.NewMutableMessage([]byte("hello"), message.Properties{"trace": "t-1"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("appended at offset", id)

	s, err := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	m := <-s.Chan()
	fmt.Printf("read %q %v at offset %v\n", m.Payload(), m.Properties(), m.MessageID())
	// Output:
	// appended at offset 2
	// read "hello" map[trace:t-1] at offset 2
}

// The registered builder reaches localhost:9092 (DefaultBroker); build your
// own for anything else, e.g. SASL and a managed topic layout.
func ExampleWithConfig() {
	b := kafka.NewBuilder(kafka.WithConfig(kafka.Config{
		Brokers:             []string{"kafka-1:9092", "kafka-2:9092"},
		TopicPrefix:         "prod.wal.",
		DisableCreateTopics: true,
		SASL:                &kafka.SASLConfig{Mechanism: kafka.SASLScramSHA512, Username: "wal", Password: "secret"},
		TLSFiles:            &kafka.TLSFiles{CAFile: "/etc/kafka/ca.pem"},
	}))
	fmt.Println(b.Name())
	// Output: kafka
}

// A message keyed for Kafka: the property kafka.PropertyKey is written as
// the record key (what keyed consumers and compaction-aware tools see) and
// comes back as that property.
func Example_keyedMessage() {
	ctx := context.Background()
	cluster, err := kafkatest.Start(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	opener, err := kafka.NewBuilder(kafka.WithBrokers(cluster.Addrs()...)).Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opener.Close()
	w, err := opener.Open(ctx, &walimpls.OpenOption{Channel: walimpls.Channel{Name: "payments", Term: 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := w.Append(ctx, message.NewMutableMessage([]byte("paid"), message.Properties{kafka.PropertyKey: "order-7"})); err != nil {
		fmt.Println(err)
		return
	}
	s, err := w.Read(ctx, walimpls.ReadOption{DeliverPolicy: walimpls.DeliverAll()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	m := <-s.Chan()
	fmt.Printf("%q keyed %q\n", m.Payload(), m.Properties()[kafka.PropertyKey])
	// Output: "paid" keyed "order-7"
}
