package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/section"
)

var durationType = reflect.TypeFor[time.Duration]()

// decodeYAML decodes data into c. It walks the document against c's fields
// and sections itself, so an unknown key or a badly typed value is reported
// with its full dotted path and line, which yaml's own errors ("field x not
// found in type config.RMQ") do not give. empty reports a document with
// nothing in it (no bytes, only comments, or only "---").
func decodeYAML(name string, data []byte, c *Config) (empty bool, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		return false, syntaxError(name, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return false, &Error{Source: fmt.Sprintf("%s:%d", name, extra.Line), Msg: "more than one YAML document", Err: walimpls.ErrInvalidArgument}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return true, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return false, &Error{Source: fmt.Sprintf("%s:%d", name, root.Line), Msg: "the top level must be a mapping of keys (backend, rmq, kafka, ...)", Err: walimpls.ErrInvalidArgument}
	}
	return false, walk(name, root, mapping{v: reflect.ValueOf(c).Elem(), sections: c.sections}, "", c.sources)
}

// yamlLine is the "line N: " yaml puts in its syntax errors.
var yamlLine = regexp.MustCompile(`^(yaml: )?line \d+: `)

// syntaxError reports a YAML syntax error at the line where the document
// stops making sense. yaml's own line is often the line before (it counts
// some positions from 0), or that of an enclosing mapping: an unclosed "["
// on line 2 was reported on line 1. The line found here is the first one
// that cannot be added to the longest prefix of whole lines that parses:
// for an unclosed bracket, the bracket's line; for a bad indentation, the
// badly indented line.
func syntaxError(name string, data []byte, err error) *Error {
	msg := yamlLine.ReplaceAllString(err.Error(), "")
	msg = strings.TrimPrefix(msg, "yaml: ")
	lines := bytes.SplitAfter(data, []byte("\n"))
	line := 0
	// Configs are small; a pathological one keeps yaml's message alone.
	if len(lines) <= 5000 {
		good := 0
		for k := len(lines) - 1; k > 0; k-- {
			var n yaml.Node
			if yaml.Unmarshal(bytes.Join(lines[:k], nil), &n) == nil {
				good = k
				break
			}
		}
		line = good + 1
		text := string(lines[good])
		for open, closer := range map[string]string{"[": "]", "{": "}"} {
			if strings.Contains(msg, "'"+closer+"'") && strings.Contains(text, open) {
				msg += fmt.Sprintf(" (the %q on this line is not closed)", open)
			}
		}
	}
	source := name
	if line > 0 {
		source = fmt.Sprintf("%s:%d", name, line)
	}
	return &Error{Source: source, Msg: msg, Err: errors.Join(walimpls.ErrInvalidArgument, err)}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// isMapping reports whether t is a nested mapping rather than a leaf value.
func isMapping(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != durationType
}

// fields maps the yaml names of struct type t to field indexes.
func fields(t reflect.Type) (map[string]int, []string) {
	m := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		m[tag] = i
		names = append(names, tag)
	}
	return m, names
}

// mapping is a struct to decode a YAML mapping into; at the top level, the
// registered sections are keys of it too.
type mapping struct {
	v        reflect.Value
	sections map[string]section.Section
}

// keys returns mapping m's keys in the order they are listed, and a lookup.
func (m mapping) keys() ([]string, func(string) (reflect.Value, bool)) {
	idx, names := fields(m.v.Type())
	return append(names, slices.Sorted(maps.Keys(m.sections))...), func(k string) (reflect.Value, bool) {
		if i, ok := idx[k]; ok {
			return m.v.Field(i), true
		}
		if s, ok := m.sections[k]; ok {
			return reflect.ValueOf(s).Elem(), true
		}
		return reflect.Value{}, false
	}
}

func walk(file string, n *yaml.Node, m mapping, prefix string, sources map[string]string) error {
	names, lookup := m.keys()
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		at := fmt.Sprintf("%s:%d", file, k.Line)
		if line, dup := seen[k.Value]; dup {
			return &Error{Key: key, Source: at, Msg: fmt.Sprintf("given twice (first at line %d)", line), Err: walimpls.ErrInvalidArgument}
		}
		seen[k.Value] = k.Line
		f, ok := lookup(k.Value)
		if !ok {
			if imp := builtinImport(k.Value); prefix == "" && imp != "" {
				return &Error{Key: key, Source: at, Msg: notRegistered(k.Value, imp), Err: walimpls.ErrUnknownBackend}
			}
			return &Error{Key: key, Source: at, Msg: fmt.Sprintf("unknown key (known here: %s)", strings.Join(names, ", ")), Err: walimpls.ErrInvalidArgument}
		}
		sources[key] = at
		if isMapping(f.Type()) {
			if isNull(val) {
				continue // "kafka:" with nothing under it keeps the defaults
			}
			if val.Kind != yaml.MappingNode {
				return &Error{Key: key, Source: at, Msg: "must be a mapping of keys", Err: walimpls.ErrInvalidArgument}
			}
			if err := walk(file, val, mapping{v: f}, key, sources); err != nil {
				return err
			}
			continue
		}
		if err := decodeLeaf(val, f); err != nil {
			return &Error{Key: key, Source: at, Msg: err.Error(), Err: walimpls.ErrInvalidArgument}
		}
	}
	return nil
}

// decodeLeaf sets f from a scalar or list node, with a message a user
// understands when the type does not fit.
func decodeLeaf(n *yaml.Node, f reflect.Value) error {
	t := f.Type()
	// A list may also be written as one comma-separated string, as in the
	// environment: brokers: "a:9092,b:9092".
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String && n.Kind == yaml.ScalarNode && !isNull(n) {
		f.Set(reflect.ValueOf(splitList(n.Value)))
		return nil
	}
	if n.Kind != yaml.ScalarNode && !(t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode) {
		return fmt.Errorf("must be %s, got a %s", describe(t), kindName(n.Kind))
	}
	if t == durationType && n.Kind == yaml.ScalarNode && !isNull(n) {
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			return fmt.Errorf("must be %s, got %q", describe(t), n.Value)
		}
		f.Set(reflect.ValueOf(d))
		return nil
	}
	ptr := reflect.New(t)
	ptr.Elem().Set(f)
	if err := n.Decode(ptr.Interface()); err != nil {
		return fmt.Errorf("must be %s, got %q", describe(t), n.Value)
	}
	f.Set(ptr.Elem())
	return nil
}

func describe(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 500ms or 10s"
	case t.Kind() == reflect.Pointer:
		return describe(t.Elem())
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int:
		return "an integer"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list of strings"
	}
	return t.String()
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

// splitList splits a comma-separated list, dropping blanks around items and
// empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return slices.Clip(out)
}
