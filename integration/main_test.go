package integration

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pulsar-client-go v0.19.0 leaves this goroutine behind for good when a
		// Reader closes after a resubscribe (consumer_partition.go:2218); the
		// pulsar driver's own tests ignore it too.
		goleak.IgnoreAnyFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionConsumer).grabConn.func1"),
	)
}
