package adaptor_test

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// pulsarLeak is the one goroutine pulsar-client-go v0.19.0 leaves behind
// after a Reader closes (see impls/pulsar's TestMain); nothing of ours is
// ignored.
var pulsarLeak = goleak.IgnoreAnyFunction("github.com/apache/pulsar-client-go/pulsar.(*partitionConsumer).grabConn.func1")

// TestConformancePulsar runs the harness through the adaptor over the
// Pulsar driver and the in-process broker. The write-ahead cache is asked
// for, but stays off: the driver declares no ExclusiveLog (other clients
// can produce to its topics).
func TestConformancePulsar(t *testing.T) {
	b, err := pulsartest.Start(pulsartest.WithDeduplication(true))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	h := walimplstest.Harness{
		NewOpener: func() (walimpls.OpenerImpls, error) {
			return asDriver(adaptor.NewOpenerBuilder(pulsar.NewBuilder(pulsar.WithURL(b.URL()), pulsar.WithOperationTimeout(5*time.Second)),
				adaptor.WithWriteAheadCache(1<<20)).Build())
		},
		ChannelPrefix: fmt.Sprintf("wp%d-", time.Now().UnixNano()%1e6),
	}
	walimplstest.Run(t, h)
}
