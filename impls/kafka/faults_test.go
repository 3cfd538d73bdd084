package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/impls/kafka/kafkatest"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// faults are the disturbances the history checker must survive.
func faults(c *kafkatest.Cluster) []walimplstest.Fault {
	return []walimplstest.Fault{
		{Name: "BrokerRestart", Inject: c.Restart},
		{Name: "LeaderMove", Inject: func(ctx context.Context) error {
			n, err := c.MoveAllLeaders(ctx)
			if err == nil && n == 0 {
				err = fmt.Errorf("no partition to move")
			}
			return err
		}},
		{Name: "DroppedConnections", Inject: func(context.Context) error {
			c.DropConnections()
			return nil
		}},
		{Name: "ProduceResponseLost", Inject: func(context.Context) error {
			return c.DropNextResponse(kmsg.Produce, 3)
		}},
	}
}

func TestHarnessThreeBrokersWithFaults(t *testing.T) {
	c := startCluster(t, kafkatest.WithBrokers(3))
	h := harness(c)
	h.Faults = faults(c)
	walimplstest.Run(t, h)
}
