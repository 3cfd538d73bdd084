package walimplstest_test

import (
	"fmt"
	"testing"

	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// A driver's conformance test: every case a subtest. NewOpener must reach
// the same data each time (the persistence case closes one opener and reads
// through another), so the memory driver shares one store.
func ExampleRun() {
	store := memory.NewStore()
	TestConformance := func(t *testing.T) {
		walimplstest.Run(t, walimplstest.Harness{
			NewOpener: func() (walimpls.OpenerImpls, error) {
				return memory.NewBuilder(memory.WithStore(store)).Build()
			},
		})
	}
	_ = TestConformance // in a _test.go file, a top-level func TestConformance
}

// Outside `go test` (a CLI checking a live broker), cases run one by one
// through RunCase and report a Result each.
func ExampleRunCase() {
	store := memory.NewStore()
	h := walimplstest.Harness{NewOpener: func() (walimpls.OpenerImpls, error) {
		return memory.NewBuilder(memory.WithStore(store)).Build()
	}}
	for _, c := range walimplstest.Cases(h) {
		if c.Name != "RoundTrip" && c.Name != "Truncate" {
			continue
		}
		res := walimplstest.RunCase(c, h)
		fmt.Println(res.Name, res.Passed)
	}
	// Output:
	// RoundTrip true
	// Truncate true
}
