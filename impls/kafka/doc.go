// Package kafka is the Kafka driver (backend name "kafka") on
// github.com/segmentio/kafka-go. Importing it registers the builder.
//
// Mapping: a channel is the topic TopicPrefix+channel with exactly one
// partition (a ReadWrite Open creates it unless Config.DisableCreateTopics;
// a ReadOnly Open never does: a missing topic is walimpls.ErrNotFound; a
// topic with more partitions is refused); a MessageID is the record offset;
// the payload is the record value, the properties are record headers and
// the property PropertyKey is the record key, so any Kafka client can read
// what mqwal wrote.
//
// Sharing topics: scans deliver what a read_committed consumer sees
// (control records and aborted transactions never, open transactions once
// committed; the offsets they skip are gaps in the IDs). Only the channel's
// own producer (its derived producer id) can write fences or reserved
// properties: another client's header named "_mqwal.*" is delivered as
// ForeignPropertyPrefix + its name. A header name repeated in a record
// keeps its last value under the name and the earlier ones under
// RepeatedPropertyPrefix. Append refuses the driver's reserved prefix
// "_mqwal.kafka.".
//
// Retention: a WAL keeps every record until Truncate. Topics the driver
// creates have retention.ms=-1, retention.bytes=-1 and
// cleanup.policy=delete; Open of a topic it did not create reads the
// topic's effective configs (DescribeConfigs) and refuses one whose broker
// would delete records that were never truncated (ErrInvalidArgument naming
// the setting), unless Config.AllowRetention.
//
// Appends are idempotent-producer batches built by the driver and sent
// with acks=all in its own Produce requests (v3..v8). Every writer of a channel uses the
// same producer id, derived from the topic name, and the term as the
// producer epoch (so ReadWrite terms are 0..MaxTerm). Opening ReadWrite
// reads the producer's newest batch from the log to continue its sequence
// and writes a fence batch of two records (header "_mqwal.kafka.fence",
// skipped by scanners; a new channel's first message is therefore at offset
// 2) with epoch = term and a random nonce, which it reads back: from then
// on the broker answers a lower term's batches with INVALID_PRODUCER_EPOCH,
// which Append returns as ErrFenced. A second Open with the same term takes
// the channel over: within one opener the older WAL is closed with
// ErrFenced; in another process the older writer's next append is refused
// by the broker as out of sequence, it finds the newer fence in the log and
// fails with ErrFenced. No answer is ever acknowledged twice (see claim.go
// for why the broker's content-blind dedup cannot mix two writers up).
//
// Concurrent appends share a batch (one batch in flight per WAL); a batch
// whose answer is lost is resent with identical bytes, which the broker
// either stores or recognises as a duplicate and answers with the original
// offset, so nothing is written twice. Every append error either means not
// stored or wraps walimpls.ErrOutcomeUnknown (see outcome.go). While a
// batch is resent, at most Config.MaxQueuedAppends / MaxQueuedBytes appends
// wait behind it; more fail at once with ErrUnavailable.
//
// Fencing is strict even after a broker forgot the producer
// (producer.id.expiration.ms after its last batch, when a lower epoch is
// accepted again): a writer idle for half of Config.ProducerIDExpiration
// (read from the brokers by default) checks from the log that the
// producer's newest batch is its own before it sends. So no lower term's
// append is ever stored after a higher term's claim, and the driver does
// not implement walimpls.ClaimReader.
//
// Connections do not grow with the number of channels: per broker the
// driver holds up to 8 pooled connections (metadata, offsets, admin
// requests, log lookups, catch-up fetches), one produce connection whose
// requests carry the waiting batches of every partition the broker leads
// (appends spread over many channels batch per broker, as franz-go's kgo
// does), and up to 2 long polls (see broker.go). Metadata is asked per
// topic when first used and after a leader moves, never for every topic.
//
// Scans fetch through a source per broker with the driver's own Fetch
// codec (v4..v11, read_committed; segmentio's readers cannot skip aborted
// transactions): scanners with records to read share one catch-up fetch,
// caught-up scanners one long poll of 5 s, so 10,000 idle tailing
// scanners cost one request per broker every 5 s. Scanners move after
// leader moves; a start below the log start offset is ErrOutOfRange, never
// a silent skip.
//
// WALs implement walimpls.StatReader (offsets, retained records, the
// leader's bytes, the highest term from the log) and the opener
// walimpls.ChannelLister (the topics with the prefix); see Stat for what
// each figure means.
// Truncate is DeleteRecords (added through segmentio's protocol package),
// so the driver declares PhysicalTruncate. The driver itself uses no
// transactions. Every request version it sends is accepted by Apache Kafka
// 4.0 (kafkatest.WithProtocolFloor checks).
package kafka
