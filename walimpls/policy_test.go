package walimpls_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

type testID uint64

func (i testID) WALName() string              { return "t" }
func (i testID) LT(o message.MessageID) bool  { return i < o.(testID) }
func (i testID) LTE(o message.MessageID) bool { return i <= o.(testID) }
func (i testID) EQ(o message.MessageID) bool  { return i == o.(testID) }
func (i testID) Marshal() string              { return fmt.Sprint(uint64(i)) }
func (i testID) String() string               { return i.Marshal() }

func TestDeliverPolicy(t *testing.T) {
	if err := walimpls.StartFrom(nil).Validate("t"); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Errorf("nil id: %v", err)
	}
	if err := walimpls.StartAfter(testID(1)).Validate("other"); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Errorf("foreign id: %v", err)
	}
	if (walimpls.DeliverPolicy{}).Kind() != walimpls.DeliverKindAll {
		t.Error("zero DeliverPolicy is not DeliverAll")
	}
	from, after := walimpls.StartFrom(testID(5)), walimpls.StartAfter(testID(5))
	if !from.Includes(testID(5)) || from.Includes(testID(4)) {
		t.Error("StartFrom must include its id and exclude earlier ones")
	}
	if after.Includes(testID(5)) || !after.Includes(testID(6)) {
		t.Error("StartAfter must exclude its id and include later ones")
	}
	if err := (walimpls.ReadOption{ReadAheadBufferSize: -1}).Validate("t"); !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Errorf("negative buffer: %v", err)
	}
}
