package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// Ownership of a channel. Every writer of a channel produces with the same
// producer id and epoch = term, so the broker fences lower terms by itself.
// Two writers of one term share the epoch, and the broker's dedup matches
// a batch by (epoch, first sequence, last sequence), not by content: a
// writer whose batch reuses the other's sequence range is answered with
// the other's offset as success. Three rules keep such an answer from ever
// becoming an acknowledgement:
//
//   - A claim's fence batch holds fenceRecords records and no data batch
//     ever does, so a data batch never matches a fence and a fence never
//     matches a data batch.
//   - A claim reads its fence back at the answered offset and checks its
//     random nonce: a fence answered as a duplicate of another claim's
//     fence is not taken as its own.
//   - A writer never adopts a sequence it did not produce itself: when the
//     broker says its sequence is out of step, it checks that the newest
//     batch of the producer in the log is its own (see verify), else it is
//     fenced. By induction two writers never send data at one sequence.
//
// Together: after a same-term claim the older writer's next batch is
// refused (OUT_OF_ORDER_SEQUENCE_NUMBER) and it finds the newer fence in
// the log, so it fails with ErrFenced; nothing is acknowledged twice.

// fenceRecords is the record count of a claim's fence batch; data batches
// never have it (see writer.take).
const fenceRecords = 2

// nonceHeader carries a claim's random nonce on the first fence record.
const nonceHeader = "_mqwal.kafka.claim"

// claimRounds bounds how often a claim starts over because another writer
// of its term moved the sequence between reading the log and writing.
const claimRounds = 3

// fenceBodies are the records of a claim's fence batch.
func fenceBodies(term int64, nonce string) [][]byte {
	t := termString(term)
	return [][]byte{
		encodeRecordBody(nil, nil, message.Properties{fenceHeader: t, nonceHeader: nonce}),
		encodeRecordBody(nil, nil, message.Properties{fenceHeader: t}),
	}
}

// claimed is the state a writer starts from: the producer state after its
// fence, and the fence as its newest own batch.
type claimed struct {
	ps    producerState
	own   batchInfo
	ownAt time.Time // the fence's timestamp
}

// claim writes the fence batch of ch's term: from then on the broker
// refuses lower epochs, and a same-term writer's next batch is out of
// sequence. An error after the fence may have been stored is still safe to
// retry: a fence is invisible to readers and only fences older writers,
// which is what the caller asked for.
func claim(ctx context.Context, c *client, topic string, ch walimpls.Channel) (claimed, error) {
	pid := producerID(topic)
	var nb [16]byte
	_, _ = rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	unavailable := func(err error) (claimed, error) {
		return claimed{}, fmt.Errorf("%w: kafka channel %q: claiming term %d: %w", walimpls.ErrUnavailable, ch.Name, ch.Term, err)
	}
	var lastErr error
	for round := 0; round < claimRounds; round++ {
		first, end, err := c.offsets(ctx, topic)
		if err != nil {
			return unavailable(err)
		}
		newest, found, err := c.newestBatchOf(ctx, topic, pid, first, end)
		if err != nil {
			return unavailable(err)
		}
		ps := producerState{id: pid, epoch: int16(ch.Term)}
		if found {
			switch {
			case int64(newest.epoch) > ch.Term:
				return claimed{}, fmt.Errorf("%w: kafka channel %q: term %d already wrote to %s, this WAL has term %d", walimpls.ErrFenced, ch.Name, newest.epoch, topic, ch.Term)
			case int64(newest.epoch) == ch.Term:
				ps.sequence = newest.next()
			}
		}
		start := time.Now()
		batch := frameBatch(ps, start.UnixMilli(), fenceBodies(ch.Term, nonce))
		base, err := c.produceFence(ctx, topic, batch)
		switch {
		case err == nil:
			b, err := c.batchAt(ctx, topic, base)
			if err != nil {
				return unavailable(fmt.Errorf("reading the fence back: %w", err))
			}
			if b.pid == pid && b.epoch == ps.epoch && b.seq == ps.sequence && b.fence && b.nonce == nonce {
				return claimed{ps: producerState{id: pid, epoch: ps.epoch, sequence: b.next()}, own: b, ownAt: start}, nil
			}
			// Answered as a duplicate of another claim's fence with this
			// term: it went first. Look again.
			lastErr = fmt.Errorf("the broker answered the fence with offset %d, which holds another writer's batch", base)
		case errors.Is(err, kafkago.InvalidProducerEpoch) || errors.Is(err, kafkago.ProducerFenced):
			return claimed{}, fmt.Errorf("%w: kafka channel %q: a term above %d owns %s: %w", walimpls.ErrFenced, ch.Name, ch.Term, topic, err)
		case errors.Is(err, kafkago.OutOfOrderSequenceNumber) || errors.Is(err, kafkago.DuplicateSequenceNumber) || errors.Is(err, kafkago.UnknownProducerId):
			// Another writer of this term moved the sequence after the
			// log was read (or a resend was stored): look again.
			lastErr = err
		case refusedBeforeAppend(err) && !errors.Is(err, kafkago.NotEnoughReplicas):
			// Invalid or not authorized: asking again will not help.
			return claimed{}, fmt.Errorf("kafka channel %q: claiming term %d: %w", ch.Name, ch.Term, err)
		default:
			return unavailable(err)
		}
		if err := ctx.Err(); err != nil {
			return unavailable(err)
		}
	}
	return claimed{}, fmt.Errorf("%w: kafka channel %q term %d: other writers of this term kept moving the producer sequence (open with a higher term): %w",
		walimpls.ErrFenced, ch.Name, ch.Term, lastErr)
}

// produceFence sends a fence batch until the broker answers it; a resend
// of identical bytes is recognised as the same batch, so it is stored at
// most once.
func (c *client) produceFence(ctx context.Context, topic string, batch []byte) (int64, error) {
	for try := 0; ; try++ {
		base, err := c.produce(ctx, topic, batch)
		switch {
		case err == nil:
			return base, nil
		case ctx.Err() != nil:
			return 0, ctx.Err()
		case errors.Is(err, kafkago.NotEnoughReplicas):
			// Refused before appending, and may pass soon.
		case refusedBeforeAppend(err) || errors.Is(err, kafkago.DuplicateSequenceNumber):
			return 0, err
		}
		if try >= 20 {
			return 0, err
		}
		if needsRefresh(err) {
			c.invalidate(topic)
		}
		if err := sleepCtx(ctx, backoff(try)); err != nil {
			return 0, err
		}
	}
}

// pendingBatch is a batch whose outcome a writer could not learn: its
// first sequence and record count.
type pendingBatch struct {
	seq int32
	n   int
	at  time.Time // its timestamp
}

// verify checks from the log that this writer still owns the channel: the
// newest batch of the producer must be its own newest batch, or pend (a
// batch it sent without learning the outcome) stored after it. It returns
// pend's batch if the log holds it. Sound because the log always keeps the
// producer's newest batch (Truncate appends a fence before deleting it),
// a higher term's claim writes a batch with a higher epoch, and a same-term
// claim writes a fence batch, which no batch of this writer can be.
func verify(ctx context.Context, c *client, topic string, ch walimpls.Channel, ps producerState, own batchInfo, pend *pendingBatch) (*batchInfo, error) {
	first, end, err := c.offsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("%w: kafka channel %q: checking ownership: %w", walimpls.ErrUnavailable, ch.Name, err)
	}
	b, found, err := c.newestBatchOf(ctx, topic, ps.id, first, end)
	if err != nil {
		return nil, fmt.Errorf("%w: kafka channel %q: checking ownership: %w", walimpls.ErrUnavailable, ch.Name, err)
	}
	switch {
	case !found:
		return nil, fmt.Errorf("%w: kafka channel %q term %d: the log of %s holds no batch of the channel's producer; it was deleted by someone else (open with a higher term)", walimpls.ErrFenced, ch.Name, ch.Term, topic)
	case b.epoch > ps.epoch:
		return nil, fmt.Errorf("%w: kafka channel %q term %d: term %d wrote to %s", walimpls.ErrFenced, ch.Name, ch.Term, b.epoch, topic)
	case b.epoch == ps.epoch && b.base == own.base:
		return nil, nil
	case pend != nil && b.epoch == ps.epoch && b.base > own.base && b.seq == pend.seq && b.records() == pend.n:
		return &b, nil
	}
	return nil, fmt.Errorf("%w: kafka channel %q term %d: the newest batch of its producer in %s (offset %d, epoch %d) is not this writer's (its newest is at %d): another writer took the channel (open with a higher term)",
		walimpls.ErrFenced, ch.Name, ch.Term, topic, b.base, b.epoch, own.base)
}

// reverifyOwner checks from the log that this writer still owns the
// channel before fl is sent after a long idle. It reports done when that
// resolved fl: fenced, or found stored by an earlier attempt (which must
// not be resent: a broker that forgot the producer would store it again).
func (wr *writer) reverifyOwner(ctx context.Context, fl *inflight) (bool, error) {
	var pend *pendingBatch
	if fl.maybeSent {
		pend = &pendingBatch{seq: wr.ps.sequence, n: fl.n, at: fl.start}
	}
	stored, err := verify(ctx, wr.w.o.client, wr.topic, wr.w.Channel(), wr.ps, wr.own, pend)
	switch {
	case errors.Is(err, walimpls.ErrFenced):
		wr.fail(err)
		wr.deliverErr(fl.reqs, unknownIf(fl.maybeSent, err))
		return true, nil
	case err != nil:
		return false, err
	case stored != nil:
		wr.resolve(fl, stored.base)
		return true, nil
	}
	return false, nil
}
