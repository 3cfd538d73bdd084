package pulsar

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// ackTickers counts the flush-ticker goroutines of pulsar-client-go's
// grouping ack trackers.
func ackTickers() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "pulsar.newAckGroupingTracker.func1(")
}

// The truncation consumer acks with a response, which bypasses the ack
// tracker; it must not start the default tracker's 100 ms ticker goroutine
// for nothing.
func TestTruncationConsumerHasNoAckTicker(t *testing.T) {
	c := rawClient(t, 10*time.Second)
	o := &opener{cfg: config{subscription: "mqwal-truncation"}, client: c}
	before := ackTickers()
	cons, err := subscribeTruncation(o, "persistent://public/default/no-ack-ticker")
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	if n := ackTickers() - before; n != 0 {
		t.Fatalf("%d ack ticker goroutines started by the truncation consumer, want 0", n)
	}
}
