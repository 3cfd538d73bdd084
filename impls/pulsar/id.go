package pulsar

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/mqwal/mqwal/message"
)

// ID is a Pulsar message position: ledger, entry, and the index within a
// batch (0 for a message that is not batched, as pulsar-client-go reports
// it on send and receive). IDs order by (ledger, entry, batch index), which
// is the order a topic stores its messages in; the client has no public
// comparison.
type ID struct {
	Ledger, Entry int64
	Batch         int32
}

var _ message.MessageID = ID{}

// NewID returns the ID of a position.
func NewID(ledger, entry int64, batch int32) ID {
	return ID{Ledger: ledger, Entry: entry, Batch: batch}
}

// idOf converts a client message id. A batch index below 0 (the client's
// "not in a batch", as GET_LAST_MESSAGE_ID reports it) becomes 0, the value
// the client gives the same message on send and receive.
func idOf(m pc.MessageID) ID {
	return ID{Ledger: m.LedgerID(), Entry: m.EntryID(), Batch: max(m.BatchIdx(), 0)}
}

// valid reports whether the id is a real position (the client reports -1:-1
// for a deduplicated send and entry -1 for an empty topic).
func (i ID) valid() bool { return i.Ledger >= 0 && i.Entry >= 0 && i.Batch >= 0 }

func (i ID) client() pc.MessageID { return pc.NewMessageID(i.Ledger, i.Entry, i.Batch, 0) }

// WALName is "pulsar".
func (i ID) WALName() string { return Name }

func (i ID) cmp(o ID) int {
	switch {
	case i.Ledger != o.Ledger:
		return cmpInt(i.Ledger, o.Ledger)
	case i.Entry != o.Entry:
		return cmpInt(i.Entry, o.Entry)
	}
	return cmpInt(int64(i.Batch), int64(o.Batch))
}

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func asID(o message.MessageID) (ID, bool) {
	id, ok := o.(ID)
	return id, ok
}

// LT reports i < o; false for an ID of another backend.
func (i ID) LT(o message.MessageID) bool { x, ok := asID(o); return ok && i.cmp(x) < 0 }

// LTE reports i <= o; false for an ID of another backend.
func (i ID) LTE(o message.MessageID) bool { x, ok := asID(o); return ok && i.cmp(x) <= 0 }

// EQ reports i == o; false for an ID of another backend.
func (i ID) EQ(o message.MessageID) bool { x, ok := asID(o); return ok && i == x }

// Marshal is "ledger:entry:batch" in canonical decimal. Unlike the client's
// MessageID.String it keeps the batch index, and unlike Serialize it is text.
func (i ID) Marshal() string {
	return strconv.FormatInt(i.Ledger, 10) + ":" + strconv.FormatInt(i.Entry, 10) + ":" + strconv.FormatInt(int64(i.Batch), 10)
}

// String is the Marshal form.
func (i ID) String() string { return i.Marshal() }

// ParseID parses the Marshal form: three canonical non-negative decimals
// (no sign, no leading zeros) separated by ':', so each ID has exactly one
// text form. Errors wrap ErrInvalidArgument.
func ParseID(s string) (ID, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return ID{}, fmt.Errorf("%w: pulsar MessageID %q is not ledger:entry:batch", message.ErrInvalidArgument, s)
	}
	var v [3]int64
	for k, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 || strconv.FormatInt(n, 10) != p {
			return ID{}, fmt.Errorf("%w: pulsar MessageID %q: part %d is not a non-negative decimal integer", message.ErrInvalidArgument, s, k+1)
		}
		v[k] = n
	}
	if v[2] > math.MaxInt32 {
		return ID{}, fmt.Errorf("%w: pulsar MessageID %q: batch index out of range", message.ErrInvalidArgument, s)
	}
	return ID{Ledger: v[0], Entry: v[1], Batch: int32(v[2])}, nil
}

func init() {
	message.RegisterMessageIDUnmarshaler(Name, func(s string) (message.MessageID, error) { return ParseID(s) })
}
