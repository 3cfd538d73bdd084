package pulsartest_test

import (
	"context"
	"fmt"

	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
)

func Example() {
	b, err := pulsartest.Start(pulsartest.WithDeduplication(true))
	if err != nil {
		panic(err)
	}
	defer b.Close()

	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: b.URL(), Logger: plog.DefaultNopLogger()})
	if err != nil {
		panic(err)
	}
	defer client.Close()

	const topic = "persistent://public/default/example"
	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, Name: "writer"})
	if err != nil {
		panic(err)
	}
	defer producer.Close()
	id, err := producer.Send(context.Background(), &pulsar.ProducerMessage{Payload: []byte("hello")})
	if err != nil {
		panic(err)
	}

	reader, err := client.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		panic(err)
	}
	defer reader.Close()
	msg, err := reader.Next(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println(string(msg.Payload()), id.EntryID())
	// Output: hello 0
}
