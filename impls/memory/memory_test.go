package memory_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	store := memory.NewStore()
	walimplstest.Run(t, walimplstest.Harness{
		NewOpener: func() (walimpls.OpenerImpls, error) {
			return memory.NewBuilder(memory.WithStore(store), memory.WithMaxMessageSize(64<<10)).Build()
		},
	})
}
