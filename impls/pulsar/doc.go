// Package pulsar is the Pulsar driver (backend name "pulsar") on
// github.com/apache/pulsar-client-go v0.19.0. Importing it registers the
// builder; NewBuilder with options builds one for another broker:
//
//	import _ "github.com/mqwal/mqwal/impls/pulsar"
//	opener, err := registry.MustGetBuilder("pulsar").Build() // pulsar://127.0.0.1:6650
//
// # Mapping
//
// A channel is the non-partitioned topic
// persistent://<tenant>/<namespace>/<prefix><channel>. A message is a Pulsar
// message: payload as is, properties as message properties, plus the
// driver's own sequence number in SeqProperty ("_mqwal.pulsar.seq") and the
// writer's term in TermProperty ("_mqwal.pulsar.term"), which scanners
// remove again. A writer whose term takes the channel first stores a claim:
// an empty message with ClaimProperty ("_mqwal.pulsar.claim"), which
// scanners skip and other clients see. The message key, ordering key and
// event time are the properties KeyProperty ("pulsar.key"),
// OrderingKeyProperty and EventTimeProperty, both ways. Appending a message
// with a property under "_mqwal.pulsar." is ErrInvalidArgument; the
// adaptor's other "_mqwal." properties pass through. A MessageID is the
// position (ledger, entry, batch index), written "ledger:entry:batch" and
// ordered by those three numbers, so other Pulsar clients can read what
// mqwal wrote and the other way round.
//
// # Sharing topics
//
// What other clients see of a channel's topic: every message mqwal appended,
// with the application's properties, SeqProperty and TermProperty, the
// adaptor's "_mqwal.term" (and its fence records: empty messages with
// "_mqwal.fence"), producer name "mqwal-writer", and the key, ordering key
// and event time set through the field properties (as fields, not
// properties); plus one claim per term (an empty message with
// ClaimProperty). The truncation subscription "mqwal-truncate" is durable
// and lags behind on purpose.
//
// What mqwal delivers of theirs: every message, single or batched, once and
// in position order, also across reconnects and restarts, with its
// properties, its key, ordering key and event time as the field properties,
// and its ID. A message is the driver's own only if its producer name is
// "mqwal-writer" and it carries both SeqProperty and TermProperty; any other
// message is another client's, whatever properties it carries, and cannot
// move a term, a sequence number or a claim: its "_mqwal." properties (and
// any stored property named like a field property) are delivered under
// ForeignPropertyPrefix + the name, so a forged "_mqwal.term=99" or
// "_mqwal.fence" neither fences the writer nor hides its appends from the
// adaptor's read fence, and a forged claim is delivered as a message. Keep
// the producer name "mqwal-writer" to mqwal. A key a Java client set as bytes
// is delivered in its base64 form (pulsar-client-go does not expose the
// flag).
//
// What is refused: a partitioned topic, at Open in both modes
// (ErrInvalidArgument naming the topic and its partition count; a channel
// is one non-partitioned topic and one partition would be a partial read),
// and so a channel name containing "-partition-" (Pulsar clients read it as
// a partition's); Append of "_mqwal.pulsar." properties, of an empty key or ordering key, and of an
// event time that is not a positive number of milliseconds. Another
// producer cannot write while a ReadWrite WAL holds the topic (the driver's
// producer is exclusive: theirs gets ProducerBusy or ProducerFenced), and a
// ReadWrite Open waits for another client's producer to go, up to the
// operation timeout (ErrUnavailable).
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
//     made of the writer's term (high bits) and the driver's sequence number
//     (low 44 bits), and one lock around submission. Sequence ids are never
//     reused across terms and grow with the term, so a broker with
//     deduplication refuses a lower term's send once a higher term stored
//     one.
//     The producer is taken when the WAL opens (see Fencing) and retaken by
//     the next Append after a failure; the next sequence number is
//     recovered from the last messages of the topic.
//   - Append returns the position scanners deliver: the first stored copy of
//     the message's (term, sequence number), stored before any message of a
//     higher term.
//     Without broker deduplication a lost receipt stores a message twice; the
//     driver notices that the acknowledged entry does not directly follow the
//     last known one and reads the topic to find the first copy. With
//     deduplication the broker answers -1:-1 and the driver reads forward to
//     the stored copy. -1:-1 is never returned.
//   - A failed send (the producer closed or was refused on reconnect) is
//     reported as ErrOutcomeUnknown (it may have reached the broker first),
//     and the next Append recreates the producer and recovers; sequence
//     numbers are never reused.
//   - A zombie writer (one cut off while a higher term took the channel,
//     whose client resends when it gets through) is never acknowledged with
//     another writer's message, nor with a copy stored after a higher term's
//     message: that is ErrFenced (with ErrOutcomeUnknown when a copy was
//     stored there).
//   - Scanners drop repeated positions, second copies and zombie messages (a
//     (term, sequence number) not above the last delivered one), and treat
//     a position that does not follow the
//     last one (next entry of the ledger, or entry 0 of a later ledger) or a
//     jump in the sequence as suspect: they recreate the reader at the last
//     good position and accept the gap only if it is still there after two
//     re-reads (a gap that is really stored, e.g. a broker marker entry or a
//     message a failed writer never stored). Messages of other producers
//     carry no sequence number and take part in the position check only.
//
// # Capabilities and limits
//
// Fencing: declared, built from what v0.19.0 offers. The client has no
// ExclusiveWithFencing (it sends the mode as Shared), so a new owner cannot
// take the topic from a live exclusive producer by itself. Instead:
//
//   - Each message carries the writer's term in TermProperty
//     ("_mqwal.pulsar.term"). A writer that finds a higher term at the end of
//     the topic when it takes the producer is fenced (ErrFenced).
//   - Opening ReadWrite takes the producer at once. A real broker refuses
//     a second exclusive producer with ProducerFenced ("Topic has an existing
//     exclusive producer"), which at creation means "held", not "fenced":
//     the driver treats it like ProducerBusy. If it is held, the new
//     writer publishes a request with its term and topic on the namespace's
//     control topic ("mqwal=fence"), which every opener with a ReadWrite WAL
//     watches with one reader; the holder's opener hands the request to the
//     holder, which flushes what it has in flight, closes its producer and
//     fails every
//     later Append with ErrFenced if the request's term is higher, or
//     answers with its own term (a higher one fences the requester at Open;
//     an equal one lets Open succeed, and Append reports the busy topic as a
//     retryable ErrUnavailable until the holder closes).
//   - A holder that does not answer (a crashed process whose connection
//     the broker has not dropped yet, a paused one, a non-mqwal producer) is
//     waited for at most the operation timeout; Open then fails with a
//     retryable ErrUnavailable. Open of a higher term returns only with the
//     producer in hand (or an equal term's holder refusing), so nothing a
//     lower term appends is stored after it: the broker's topic epoch
//     refuses the old producer's reconnect (ProducerFenced, Pulsar 2.8 and
//     later), and a lower term that takes the producer later, while this
//     writer is disconnected, finds this term's claim in the topic and is
//     fenced. Open also fails (retryably) while the broker is away.
//   - ProducerFenced on a reconnect fails the pending sends; the driver
//     reports them as ErrOutcomeUnknown, not ErrFenced: the topic epoch
//     moves with any new exclusive producer, a lower term's too, so only the
//     next Append, taking the producer again, learns from the topic whether
//     a higher term took over. Where a zombie's reconnect gets through (a
//     broker without exclusive producers), deduplication refuses the resends
//     that a higher term's sequence ids passed, and scanners drop the rest:
//     no lower term's message is delivered after a higher term's.
//
// The adaptor's read-side fence stays useful on top of this.
//
// PhysicalTruncate: no. A broker deletes closed ledgers that every durable
// subscription has acknowledged (retention 0 by default) and keeps nothing
// of a topic without one, so the durable subscription "mqwal-truncate" is
// created at the earliest position before a writer's first send, and
// Truncate(id) is a cumulative acknowledgement on it of the entry before id:
// id stays, as the position a scanner resumes after and the tail a new
// writer continues. The retention policy decides when acknowledged data
// goes; reads below the truncation point return complete data while it is
// retained; DeliverAll starts at the oldest retained message. A start
// position that is no longer stored gives ErrOutOfRange.
//
// Policies that delete messages nobody truncated (message TTL, a backlog
// quota with consumer_backlog_eviction, subscription expiration, which
// removes the truncation subscription between Truncates) are refused at
// ReadWrite Open with ErrInvalidArgument when WithAdminURL names the
// broker's admin service (WithAllowExpiringPolicies accepts them with a
// warning); without it they are not checked, and the first Open logs a
// warning.
//
// MaxMessageSize: the broker's max_message_size (default 5 MiB; set it with
// WithMaxMessageSize, the client does not expose what CONNECTED announced)
// less 4 KiB for metadata, since the client applies the limit to payload
// plus metadata. Larger messages fail with ErrMessageTooLarge before
// anything is sent.
//
// # Describing channels
//
// A WAL is a walimpls.StatReader and the opener a walimpls.ChannelLister
// (walctl stat). Stat reads the topic's last message id, the first message
// a DeliverAll reader gets (the broker deletes whole ledgers behind the
// truncation point, so that is at or before it) and the last 65 entries
// for the highest term; with WithAdminURL also the topic's internalStats
// (retained entries and bytes) and, when no WAL of the opener holds the
// channel, its stats (a producer named "mqwal-writer" holds it). Without
// the admin URL the counts and another process's writer are Unknown.
// ListChannels asks the admin service for the namespace's topics, or
// without it lists them through a pattern subscription (one non-durable
// subscription per topic with the prefix). Admin requests follow a broker's
// redirect to the topic's owner with the token.
//
// # Limits users should know
//
//   - Topics and the namespace's control topic "mqwal=fence" are created by
//     the broker on first use by a ReadWrite Open: allow topic
//     auto-creation in the namespace (as non-partitioned topics, the
//     default allowAutoTopicCreationType; a namespace that auto-creates
//     partitioned topics gets every new channel refused as partitioned), or
//     create them. Without the control topic a busy channel cannot be taken
//     over (Open waits at most the operation timeout and fails). A ReadOnly
//     Open never creates a topic: a missing channel is
//     walimpls.ErrNotFound ("no such channel"). It finds the topic through a non-durable
//     pattern subscription (the only call of the client that lists topics
//     instead of creating them), which costs the list of the namespace's
//     topics per ReadOnly Open.
//   - Writers of drivers before the shared control topic watched one per
//     channel ("<topic>=mqwal-fence") and do not see requests on the shared
//     one: while such a writer holds a channel, Open of a newer driver fails
//     (ErrUnavailable) until it closes. Upgrade a channel's writers
//     together.
//   - Each open ReadWrite WAL holds one producer (the client's: three
//     goroutines, its pending queue of WithMaxInFlight slots) and nothing
//     else while idle; the opener holds one reader of the control topic
//     from its first ReadWrite WAL on; each scanner holds one reader while
//     it reads. A tailing scanner that received nothing for
//     WithScannerParkAfter (5 s) closes its reader and waits on a
//     non-durable consumer used only as a wake-up (a reader's 100 ms
//     ack-grouping ticker cannot be turned off; 1,000 idle readers cost
//     ~9 % of a core, parked scanners 0.4 %); the first message after that
//     reopens its reader at the last position it delivered.
//   - Open ReadWrite does I/O: it creates the truncation subscription (once
//     per WAL), with WithAdminURL reads the topic's policies, creates the
//     producer, reads up to the last 64 entries of the topic to recover the
//     sequence number and term (the whole topic if those carry no sequence
//     number, e.g. a topic written by other producers), and stores the claim
//     when its term is new to the channel.
//   - pulsar-client-go retries a refused connection until the operation
//     timeout and then says only "context deadline exceeded", and waits up to
//     30 s for a broker that accepts and never answers. So until an Open
//     succeeds, an opener first dials the service URL itself (bounded by the
//     connection timeout): a URL where nothing listens fails Open at once
//     with ErrUnavailable naming the address and "connection refused". Open's
//     lookups are bounded by the operation timeout (ErrUnavailable).
//   - ReadWrite terms are 0..MaxTerm (524,287): the term is part of the
//     producer sequence id. Readers may use any term.
//   - A confirmed gap costs a scanner two reader re-creations; it only
//     happens around failed appends or broker-internal entries. Reaching a
//     later ledger costs one: entry 0 of a new ledger follows any position
//     by place, and a reader that skipped the end of the old ledger (seen
//     with another client's message as that ledger's last entry, after a
//     reconnect) would otherwise go unnoticed.
//   - Append fails with ErrMessageTooLarge above Capabilities.MaxMessageSize
//     (from WithMaxMessageSize); a broker announcing less is caught by the
//     client before sending, also as ErrMessageTooLarge.
//   - pulsar-client-go v0.19.0 has data races on its own reconnect paths
//     (producer_partition.go grabCnx against the send loop,
//     consumer_partition.go clearReceiverQueue against Reader.Next); tests
//     that reconnect under -race trip over them.
package pulsar
