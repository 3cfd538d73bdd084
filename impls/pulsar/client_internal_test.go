package pulsar

import (
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"
	pclog "github.com/apache/pulsar-client-go/pulsar/log"

	"github.com/mqwal/mqwal/impls/pulsar/pulsartest"
)

// rawClient starts a broker and a plain pulsar-client-go client of it,
// both closed (client first) when the test ends.
func rawClient(t *testing.T, opTimeout time.Duration) pc.Client {
	t.Helper()
	b, err := pulsartest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	c, err := pc.NewClient(pc.ClientOptions{URL: b.URL(), Logger: pclog.DefaultNopLogger(), OperationTimeout: opTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
