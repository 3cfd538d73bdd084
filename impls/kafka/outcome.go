package kafka

import (
	"errors"
	"fmt"
	"net"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/mqwal/mqwal/walimpls"
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

// failedAttempt handles an attempt of fl that ended with err and reports
// whether fl is resolved (see outcome.go for the kinds of errors).
func (wr *writer) failedAttempt(fl *inflight, err error) bool {
	topic, reqs := wr.topic, fl.reqs
	switch {
	case errors.Is(err, kafkago.InvalidProducerEpoch) || errors.Is(err, kafkago.ProducerFenced):
		ferr := fmt.Errorf("%w: kafka channel %q term %d: a higher term wrote to %s: %w", walimpls.ErrFenced, wr.w.Channel().Name, wr.w.Channel().Term, topic, err)
		wr.fail(ferr)
		wr.deliverErr(reqs, unknownIf(fl.maybeSent, ferr))
		return true
	case errors.Is(err, kafkago.DuplicateSequenceNumber):
		// The broker stored the batch before, but no longer knows where.
		fl.maybeSent = true
		wr.lose(fl)
		wr.deliverErr(reqs, fmt.Errorf("%w: kafka produce to %s: the broker says the batch is already stored but not at which offset: %w", walimpls.ErrOutcomeUnknown, topic, err))
		return true
	case errors.Is(err, kafkago.OutOfOrderSequenceNumber) || errors.Is(err, kafkago.UnknownProducerId):
		wr.outOfStep(fl, err)
		return true
	case errors.Is(err, kafkago.MessageSizeTooLarge) || errors.Is(err, kafkago.RecordListTooLarge):
		if fl.maybeSent {
			wr.lose(fl)
		}
		wr.deliverErr(reqs, unknownIf(fl.maybeSent, fmt.Errorf("%w: kafka produce to %s: %w", walimpls.ErrMessageTooLarge, topic, err)))
		return true
	case wr.ctx.Err() != nil:
		// The stop may have cut a request already on the wire.
		wr.stopping(fl, !notSent(err))
		return true
	case errors.Is(err, kafkago.NotEnoughReplicas):
		// Refused before appending; may pass once replicas catch up.
	case refusedBeforeAppend(err):
		// Invalid or not authorized: sending again will not help.
		if fl.maybeSent {
			wr.lose(fl)
		}
		wr.deliverErr(reqs, unknownIf(fl.maybeSent, fmt.Errorf("kafka produce to %s: %w", topic, err)))
		return true
	case notSent(err):
		wr.w.o.client.invalidate(wr.topic)
	default:
		// Timeouts, dropped connections, REQUEST_TIMED_OUT, a leader that
		// moved: the batch may be stored. Resend the same bytes.
		fl.maybeSent = true
		if needsRefresh(err) {
			wr.w.o.client.invalidate(wr.topic)
		}
	}
	return wr.retryLater(fl, err)
}

// outOfStep settles fl after the broker refused it as out of sequence:
// another writer of this term may have claimed the channel, or an earlier
// attempt stored fl. The log tells (see verify).
func (wr *writer) outOfStep(fl *inflight, err error) {
	var pend *pendingBatch
	if fl.maybeSent {
		pend = &pendingBatch{seq: wr.ps.sequence, n: fl.n, at: fl.start}
	}
	stored, verr := verify(wr.ctx, wr.w.o.client, wr.topic, wr.w.Channel(), wr.ps, wr.own, pend)
	switch {
	case errors.Is(verr, walimpls.ErrFenced):
		wr.fail(verr)
		wr.deliverErr(fl.reqs, unknownIf(fl.maybeSent, verr))
	case verr == nil && stored != nil:
		wr.resolve(fl, stored.base)
	default:
		// Not fenced as far as the log tells, or the log could not be
		// read: the next batch checks again before it is sent, and learns
		// whether an attempt of this one was stored after all.
		wr.lose(fl)
		wr.deliverErr(fl.reqs, unknownIf(fl.maybeSent, fmt.Errorf("%w: kafka produce to %s: producer sequence out of step with the broker: %w", walimpls.ErrUnavailable, wr.topic, err)))
	}
}

// stopping resolves fl when the writer stops; sent tells whether the
// attempt the stop cut short may have reached the broker.
func (wr *writer) stopping(fl *inflight, sent bool) {
	fl.maybeSent = fl.maybeSent || sent
	err := wr.failedErr()
	if fl.maybeSent {
		err = fmt.Errorf("%w: kafka produce to %s: writer closed while the batch was unanswered: %w", walimpls.ErrOutcomeUnknown, wr.topic, err)
	}
	wr.deliverErr(fl.reqs, err)
}

// retryLater decides after a failed attempt that did not settle fl whether
// to give up (only if nothing can have been stored) or send it again.
func (wr *writer) retryLater(fl *inflight, err error) bool {
	topic, reqs := wr.topic, fl.reqs
	late := time.Since(fl.start) > wr.w.o.cfg.WriteTimeout
	switch {
	case !fl.maybeSent && (late || allGone(reqs)):
		// Nothing can have been stored: give up, the sequence is unused.
		wr.deliverErr(reqs, fmt.Errorf("%w: kafka produce to %s: %w", walimpls.ErrUnavailable, topic, err))
		return true
	case late && !fl.told:
		// Tell the appenders, but keep resending until the broker
		// answers: the next batch's sequence depends on this one.
		fl.told = true
		wr.deliverErr(reqs, fmt.Errorf("%w: kafka produce to %s: no answer within WriteTimeout %v: %w", walimpls.ErrOutcomeUnknown, topic, wr.w.o.cfg.WriteTimeout, err))
	}
	return false
}

func unknownIf(maybeSent bool, err error) error {
	if maybeSent {
		return fmt.Errorf("%w: %w", walimpls.ErrOutcomeUnknown, err)
	}
	return err
}

func allGone(reqs []*appendReq) bool {
	for _, r := range reqs {
		if !r.gone.Load() {
			return false
		}
	}
	return true
}
