package kafkatest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestProtocolFloorRefusesRemovedVersions: with the Kafka 4.0 floor a
// request at a removed version is refused (the connection closes) and
// recorded, the first kept version is served, and the floor survives a
// restart.
func TestProtocolFloorRefusesRemovedVersions(t *testing.T) {
	t.Setenv(EnvProtocolFloor, "")
	c := start(t, WithProtocolFloor("4.0"))
	cl := client(t, c)
	createTopic(t, cl, "t")
	listOffsets := func(version int16) error {
		// A client capped at version, as an old client would be.
		vs := kversion.Stable()
		vs.SetMaxKeyVersion(int16(kmsg.ListOffsets), version)
		old := client(t, c, kgo.MaxVersions(vs))
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := req.RequestWith(ctx, old)
		return err
	}
	if err := listOffsets(0); err == nil {
		t.Fatal("ListOffsets v0 was served below the Kafka 4.0 floor")
	}
	if err := listOffsets(1); err != nil {
		t.Fatalf("ListOffsets v1 (the floor): %v", err)
	}
	if got := c.Refused(); !slices.Equal(got, []string{"ListOffsets v0"}) {
		t.Fatalf("Refused() = %q, want [ListOffsets v0]", got)
	}
	if err := c.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := listOffsets(0); err == nil {
		t.Fatal("ListOffsets v0 was served after a restart")
	}
	if c.ProtocolFloor() != "4.0" {
		t.Fatalf("ProtocolFloor() = %q", c.ProtocolFloor())
	}
}

func TestProtocolFloorFromEnvAndUnknownRelease(t *testing.T) {
	t.Setenv(EnvProtocolFloor, "4.0")
	if c := start(t); c.ProtocolFloor() != "4.0" {
		t.Fatalf("%s=4.0: ProtocolFloor() = %q", EnvProtocolFloor, c.ProtocolFloor())
	}
	if _, err := Start(context.Background(), WithProtocolFloor("3.0")); err == nil || !strings.Contains(err.Error(), "4.0") {
		t.Fatalf("an unknown floor: %v, want an error listing the known ones", err)
	}
}
