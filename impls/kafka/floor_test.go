package kafka

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// TestKafka4ProtocolFloor runs the conformance harness and a broker
// restart against brokers that refuse what Apache Kafka 4.0 removed
// (KIP-896), with SASL on, and fails on any refused request (startCluster
// checks). It logs every request version the driver
// sent; DESIGN.md lists them. The whole suite runs in this mode with
// KAFKATEST_PROTOCOL_FLOOR=4.0.
func TestKafka4ProtocolFloor(t *testing.T) {
	c := startCluster(t, kafkatest.WithProtocolFloor("4.0"), kafkatest.WithSASL(kafkatest.SASLScramSHA256, "wal", "secret"))
	var mu sync.Mutex
	seen := map[string]bool{}
	c.Kfake().Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		seen[fmt.Sprintf("%s v%d", kmsg.NameForKey(req.Key()), req.GetVersion())] = true
		mu.Unlock()
		return nil, nil, false
	})
	cfg := Config{Brokers: c.Addrs(), SASL: &SASLConfig{Mechanism: SASLScramSHA256, Username: "wal", Password: "secret"}}
	walimplstest.Run(t, walimplstest.Harness{NewOpener: func() (walimpls.OpenerImpls, error) { return NewBuilder(WithConfig(cfg)).Build() }})

	o := newOpener(t, c, WithConfig(cfg))
	w := open(t, o, channelName(t), 1, walimpls.ReadWrite)
	mustAppend(t, w, "before", nil)
	if err := c.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, w, "after", nil)
	readN(t, w, walimpls.DeliverAll(), 2)

	mu.Lock()
	versions := make([]string, 0, len(seen))
	for v := range seen {
		versions = append(versions, v)
	}
	mu.Unlock()
	slices.Sort(versions)
	t.Logf("request versions sent: %q", versions)
}
