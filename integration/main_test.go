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
		// Container mode only (never run on a machine without Docker, so
		// these come from reading testcontainers v0.40.0, not from a run):
		// the Docker API client keeps idle keep-alive connections, and the
		// connection to the Ryuk reaper lives until the session's last
		// container is terminated.
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("github.com/testcontainers/testcontainers-go.(*Reaper).connect.func1"),
	)
}
