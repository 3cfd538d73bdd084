package kafkatest_test

import (
	"context"
	"fmt"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
)

// Start a three-broker cluster on loopback and hand its seed addresses to
// any Kafka client; Restart keeps the data, faults are one call each.
func ExampleStart() {
	c, err := kafkatest.Start(context.Background(), kafkatest.WithBrokers(3))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(len(c.Addrs()), "brokers")
	if err := c.Restart(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(len(c.Addrs()), "brokers after restart")
	// Output:
	// 3 brokers
	// 3 brokers after restart
}
