package kafka

import (
	"errors"
	"net"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// What a failed produce says about its batch. Every append error must be
// either "not stored" or "may be stored" (walimpls.ErrOutcomeUnknown), so
// the writer sorts produce errors into three kinds:
//
//   - notSent: the request never left the client (no connection, no
//     leader in the metadata). Nothing was stored by this attempt.
//   - refusedBeforeAppend: the broker answered without appending. Kafka
//     validates a produce (epoch, sequence, size, CRC, authorization,
//     min.insync.replicas) before it appends.
//   - everything else may come after the append: REQUEST_TIMED_OUT and
//     NOT_ENOUGH_REPLICAS_AFTER_APPEND while waiting for replicas,
//     NOT_LEADER_OR_FOLLOWER when leadership moved during that wait, a
//     connection lost before the answer. DUPLICATE_SEQUENCE_NUMBER says the
//     batch is stored (an older broker that no longer knows its offset).
//
// An attempt of a batch that an earlier attempt may have stored reports
// "may be stored" whatever its own error is.

// notSent reports an attempt that never reached a broker.
func notSent(err error) bool {
	var op *net.OpError
	var te *protocol.TopicError
	var tpe *protocol.TopicPartitionError
	return errors.As(err, &op) && op.Op == "dial" || errors.As(err, &te) || errors.As(err, &tpe)
}

// refusedBeforeAppend reports broker answers given before the batch was
// appended to the leader's log.
func refusedBeforeAppend(err error) bool {
	for _, e := range []kafkago.Error{
		kafkago.NotEnoughReplicas,
		kafkago.InvalidProducerEpoch, kafkago.ProducerFenced,
		kafkago.OutOfOrderSequenceNumber, kafkago.UnknownProducerId,
		kafkago.MessageSizeTooLarge, kafkago.RecordListTooLarge,
		kafkago.InvalidMessage, kafkago.InvalidRecord, kafkago.InvalidTimestamp,
		kafkago.TopicAuthorizationFailed, kafkago.ClusterAuthorizationFailed,
		kafkago.InvalidRequiredAcks,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// needsRefresh reports errors that fresh metadata or a fresh connection
// may cure.
func needsRefresh(err error) bool {
	return isStaleMetadata(err) || notSent(err)
}
