package registry

import (
	"fmt"
	"testing"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/section"
)

type testSection struct {
	N int `yaml:"n"`
}

func (*testSection) Check(section.Reporter, bool) {}
func (*testSection) Builder(section.Reporter) (walimpls.OpenerBuilderImpls, error) {
	return nil, nil
}

type notAStruct int

func (notAStruct) Check(section.Reporter, bool) {}
func (notAStruct) Builder(section.Reporter) (walimpls.OpenerBuilderImpls, error) {
	return nil, nil
}

func TestRegisterSection(t *testing.T) {
	name := fmt.Sprintf("sec-test-%d", runs.Add(1))
	RegisterSection(name, func() *testSection { return &testSection{N: 7} })
	s, ok := NewSection(name)
	if !ok || s.(*testSection).N != 7 {
		t.Fatalf("NewSection = %v, %v", s, ok)
	}
	if s2, _ := NewSection(name); s2 == s {
		t.Fatal("NewSection returned the same section twice: callers would share their settings")
	}
	if _, ok := NewSection("nope"); ok {
		t.Fatal("NewSection of an unregistered name")
	}
	found := false
	for _, n := range SectionNames() {
		found = found || n == name
	}
	if !found {
		t.Fatalf("SectionNames() = %v lacks %s", SectionNames(), name)
	}
	mustPanic(t, "duplicate", func() { RegisterSection(name, func() *testSection { return &testSection{} }) })
	mustPanic(t, "empty name", func() { RegisterSection("", func() *testSection { return &testSection{} }) })
	mustPanic(t, "nil constructor", func() { RegisterSection[*testSection](name+"-x", nil) })
	mustPanic(t, "reserved", func() { RegisterSection("adaptor", func() *testSection { return &testSection{} }) })
	mustPanic(t, "not a struct pointer", func() { RegisterSection(name+"-y", func() notAStruct { return notAStruct(1) }) })
	mustPanic(t, "nil interface", func() { RegisterSection(name+"-w", func() section.Section { return nil }) })
	mustPanic(t, "nil section", func() { RegisterSection(name+"-z", func() *testSection { return nil }) })
}
