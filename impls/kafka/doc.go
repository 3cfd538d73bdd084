// Package kafka is the Kafka driver (backend name "kafka") on
// github.com/segmentio/kafka-go. Importing it registers the builder.
//
// Mapping: a channel is the topic TopicPrefix+channel with one partition
// (created on Open unless Config.DisableCreateTopics); a MessageID is the
// record offset; the payload is the record value and the properties are
// record headers, so any Kafka client can read what mqwal wrote.
//
// Appends are idempotent-producer batches built by the driver and sent
// with Client.RawProduce and acks=all. Every writer of a channel uses the
// same producer id, derived from the topic name, and the term as the
// producer epoch (so ReadWrite terms are 0..MaxTerm). Opening ReadWrite
// reads the producer's last batch from the log to continue its sequence and
// writes a fence record (header "_mqwal.kafka.fence", skipped by scanners)
// with epoch = term: from then on the broker answers a lower term's batches
// with INVALID_PRODUCER_EPOCH, which Append returns as ErrFenced.
// Concurrent appends share a batch (one batch in flight per WAL); a batch
// whose answer is lost is resent with identical bytes, which the broker
// either stores or recognises as a duplicate and answers with the original
// offset, so nothing is written twice. Two WALs with the same term on one
// channel are a caller error; within one opener the older is closed with
// ErrFenced.
//
// Scans use Conn.ReadBatch against the partition leader and redial after
// leader moves; a start below the log start offset is ErrOutOfRange, never
// a silent skip. Truncate is DeleteRecords (added through segmentio's
// protocol package), so the driver declares PhysicalTruncate.
//
// Limits: the broker's producer-state expiry (producer.id.expiration.ms,
// one day by default) forgets an idle channel's epoch; a zombie of a lower
// term writing after that is no longer refused by the broker — the
// adaptor's read-side fence still hides it. No Kafka transactions are used
// (segmentio readers do not skip control batches).
package kafka
