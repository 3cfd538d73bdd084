// Package kafkatest starts an in-process Kafka-protocol cluster for tests
// and for `walctl dev-broker kafka`: one or more brokers on loopback
// (github.com/twmb/franz-go/pkg/kfake), seed addresses to hand to any Kafka
// client, and the faults a WAL must survive — a whole-cluster restart that
// keeps data, a partition leader move, dropped connections, failed or
// delayed requests, a produce response lost after the broker stored the
// batch, and what a long-running real broker does that kfake does only on
// request: forgetting idle idempotent producers (ForgetProducers) and
// deleting records by retention (ApplyRetention, with WithBrokerConfigs for
// broker-wide defaults such as log.retention.ms).
//
//	c, err := kafkatest.Start(ctx, kafkatest.WithBrokers(3))
//	defer c.Close()
//	brokers := c.Addrs()
//
// WithProtocolFloor("4.0") (or KAFKATEST_PROTOCOL_FLOOR=4.0 in the
// environment, for a whole test suite) makes the brokers refuse the request
// versions Apache Kafka 4.0 removed, closing the connection as Kafka does,
// and Refused lists what was refused.
//
// Data lives in a directory (a temporary one unless WithDataDir names one),
// so Restart brings the cluster back on the same ports with every record,
// topic and idempotent-producer state it had.
package kafkatest
