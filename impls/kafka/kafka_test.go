package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func startCluster(t testing.TB, opts ...kafkatest.Option) *kafkatest.Cluster {
	t.Helper()
	c, err := kafkatest.Start(context.Background(), opts...)
	if err != nil {
		t.Fatalf("kafkatest.Start: %v", err)
	}
	t.Cleanup(func() {
		if r := c.Refused(); len(r) > 0 {
			t.Errorf("requests below the %s protocol floor: %q", c.ProtocolFloor(), r)
		}
		c.Close()
	})
	return c
}

func newOpener(t testing.TB, c *kafkatest.Cluster, opts ...Option) walimpls.OpenerImpls {
	t.Helper()
	o, err := NewBuilder(append([]Option{WithBrokers(c.Addrs()...)}, opts...)...).Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(o.Close)
	return o
}

// createTopic creates ch's topic as a ReadWrite Open would, without
// claiming it (a ReadOnly Open never creates one).
func createTopic(t testing.TB, o walimpls.OpenerImpls, ch string) {
	t.Helper()
	op := o.(*opener)
	if _, err := op.client.createTopic(context.Background(), op.topic(ch)); err != nil {
		t.Fatal(err)
	}
}

func harness(c *kafkatest.Cluster) walimplstest.Harness {
	return walimplstest.Harness{
		NewOpener: func() (walimpls.OpenerImpls, error) {
			return NewBuilder(WithBrokers(c.Addrs()...)).Build()
		},
		Timeout: 10 * time.Second,
	}
}

func TestHarnessOneBroker(t *testing.T) {
	c := startCluster(t)
	walimplstest.Run(t, harness(c))
}

func TestLockChannel(t *testing.T) {
	o := &opener{claims: map[string]*channelLock{}}
	unlockA, err := o.lockChannel(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	// Another channel does not wait.
	unlockB, err := o.lockChannel(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	unlockB()
	// The same channel waits until ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := o.lockChannel(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock of a held channel: %v, want the ctx deadline", err)
	}
	got := make(chan struct{})
	go func() {
		unlock, err := o.lockChannel(context.Background(), "a")
		if err == nil {
			unlock()
		}
		close(got)
	}()
	unlockA()
	<-got
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.claims) != 0 {
		t.Fatalf("%d channel locks left after every holder unlocked", len(o.claims))
	}
}
