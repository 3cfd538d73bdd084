package pulsar

import (
	"slices"
	"testing"
)

func TestServiceAddrs(t *testing.T) {
	for url, want := range map[string][]string{
		"pulsar://h:1":                 {"h:1"},
		"pulsar://h":                   {"h:6650"},
		"pulsar+ssl://h":               {"h:6651"},
		"pulsar://a:1,b,c:3/":          {"a:1", "b:6650", "c:3"},
		"pulsar://[::1]:7,[::2]":       {"[::1]:7", "[::2]:6650"},
		"pulsar+ssl://x.example:6651/": {"x.example:6651"},
	} {
		if got := serviceAddrs(url); !slices.Equal(got, want) {
			t.Errorf("serviceAddrs(%q) = %v, want %v", url, got, want)
		}
	}
}
