// Package deleterecords adds the Kafka DeleteRecords API (key 21, versions
// 0–1) to segmentio/kafka-go's protocol registry, which v0.4.51 lacks, so
// kafka.Client.RoundTrip-style calls through a kafka.Transport can send it.
// Importing the package registers it.
package deleterecords

import (
	"fmt"

	"github.com/segmentio/kafka-go/protocol"
)

func init() { protocol.Register(&Request{}, &Response{}) }

// Request asks the partition leaders to move each partition's log start
// offset up to Offset (-1: the high watermark).
type Request struct {
	Topics    []RequestTopic `kafka:"min=v0,max=v1"`
	TimeoutMs int32          `kafka:"min=v0,max=v1"`
}

// RequestTopic is one topic of a Request.
type RequestTopic struct {
	Name       string             `kafka:"min=v0,max=v1"`
	Partitions []RequestPartition `kafka:"min=v0,max=v1"`
}

// RequestPartition is one partition of a RequestTopic.
type RequestPartition struct {
	PartitionIndex int32 `kafka:"min=v0,max=v1"`
	Offset         int64 `kafka:"min=v0,max=v1"`
}

// ApiKey is DeleteRecords.
func (r *Request) ApiKey() protocol.ApiKey { return protocol.DeleteRecords }

// Broker is the leader of the request's partition. The request must name
// exactly one partition, as a leader can only delete its own.
func (r *Request) Broker(cluster protocol.Cluster) (protocol.Broker, error) {
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		return protocol.Broker{ID: -1}, fmt.Errorf("deleterecords: a request must name exactly one partition")
	}
	t := r.Topics[0]
	topic, ok := cluster.Topics[t.Name]
	if !ok {
		return protocol.Broker{ID: -1}, protocol.NewErrNoTopic(t.Name)
	}
	p := t.Partitions[0].PartitionIndex
	part, ok := topic.Partitions[p]
	if !ok {
		return protocol.Broker{ID: -1}, protocol.NewErrNoPartition(t.Name, p)
	}
	b, ok := cluster.Brokers[part.Leader]
	if !ok {
		return protocol.Broker{ID: -1}, protocol.NewErrNoLeader(t.Name, p)
	}
	return b, nil
}

// Response reports each partition's new log start offset (LowWatermark).
type Response struct {
	ThrottleTimeMs int32           `kafka:"min=v0,max=v1"`
	Topics         []ResponseTopic `kafka:"min=v0,max=v1"`
}

// ApiKey is DeleteRecords.
func (r *Response) ApiKey() protocol.ApiKey { return protocol.DeleteRecords }

// ResponseTopic is one topic of a Response.
type ResponseTopic struct {
	Name       string              `kafka:"min=v0,max=v1"`
	Partitions []ResponsePartition `kafka:"min=v0,max=v1"`
}

// ResponsePartition is one partition of a ResponseTopic.
type ResponsePartition struct {
	PartitionIndex int32 `kafka:"min=v0,max=v1"`
	LowWatermark   int64 `kafka:"min=v0,max=v1"`
	ErrorCode      int16 `kafka:"min=v0,max=v1"`
}

var _ protocol.BrokerMessage = (*Request)(nil)
