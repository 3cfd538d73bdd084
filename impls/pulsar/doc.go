// Package pulsar is the Pulsar driver (backend name "pulsar") on
// github.com/apache/pulsar-client-go v0.19.0. Importing it registers the
// builder; NewBuilder with options builds one for another broker:
//
//	import _ "github.com/mqwal/mqwal/impls/pulsar"
//	opener, err := registry.MustGetBuilder("pulsar").Build() // MQWAL_PULSAR_URL or pulsar://127.0.0.1:6650
//
// # Mapping
//
// A channel is the non-partitioned topic
// persistent://<tenant>/<namespace>/<prefix><channel>. A message is a Pulsar
// message: payload as is, properties as message properties, plus the
// driver's own sequence number in SeqProperty ("_mqwal.pulsar.seq"), which
// scanners remove again. A MessageID is the position (ledger, entry, batch
// index), written "ledger:entry:batch" and ordered by those three numbers,
// so other Pulsar clients can read what mqwal wrote and the other way round.
//
// # What the driver guards against
//
// pulsar-client-go resends every pending message after a reconnect, can put
// concurrently sent sequence ids on the wire out of order, answers a
// deduplicated resend with -1:-1, and its Reader can skip or repeat a
// message across a reconnect. So:
//
//   - Appends go through one Exclusive producer per WAL with the fixed name
//     "mqwal-writer", batching off, no send timeout, an explicit sequence id
//     equal to the driver's sequence number, and one lock around submission.
//     The producer is created by the first Append (a second ReadWrite WAL of
//     the channel therefore fails its first Append with a retryable
//     ErrUnavailable, "ProducerBusy", while the first one lives) and the next
//     sequence number is recovered from the last messages of the topic.
//   - Append returns the position scanners deliver: the first stored copy.
//     Without broker deduplication a lost receipt stores a message twice; the
//     driver notices that the acknowledged entry does not directly follow the
//     last known one and reads the topic to find the first copy. With
//     deduplication the broker answers -1:-1 and the driver reads forward to
//     the stored copy. -1:-1 is never returned.
//   - A failed send (the producer closed or was fenced) is reported as
//     ErrOutcomeUnknown and the next Append recreates the producer and
//     recovers; sequence numbers are never reused.
//   - Scanners drop repeated positions and second copies (a sequence number
//     not above the last one), and treat a position that does not follow the
//     last one (next entry of the ledger, or entry 0 of a later ledger) or a
//     jump in the sequence as suspect: they recreate the reader at the last
//     good position and accept the gap only if it is still there after two
//     re-reads (a gap that is really stored, e.g. a broker marker entry or a
//     message a failed writer never stored). Messages of other producers
//     carry no sequence number and take part in the position check only.
//
// # Capabilities and limits
//
// Fencing: not declared. v0.19.0 has no ExclusiveWithFencing (the client
// sends it as Shared), so a new owner cannot take the topic from a live
// writer: its Append gets ErrUnavailable (ProducerBusy) until the old
// writer closes or its connection dies. Once the new owner holds the
// producer, the broker's topic epoch refuses the old producer's reconnect
// (ProducerFenced, reported as ErrFenced). Use the adaptor's term fence.
//
// PhysicalTruncate: no. Truncate is a cumulative acknowledgement on the
// durable subscription "mqwal-truncate" of the channel; the namespace's
// retention policy decides when data goes. Reads below the truncation point
// still return complete data while it is retained; DeliverAll starts at the
// oldest retained message. A start position that is no longer stored gives
// ErrOutOfRange.
//
// MaxMessageSize: the broker's max_message_size (default 5 MiB; set it with
// WithMaxMessageSize, the client does not expose what CONNECTED announced)
// less 4 KiB for metadata, since the client applies the limit to payload
// plus metadata. Larger messages fail with ErrMessageTooLarge before
// anything is sent.
package pulsar
