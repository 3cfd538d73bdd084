package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mqwal/mqwal/walimpls"
)

var durationType = reflect.TypeFor[time.Duration]()

// decodeYAML decodes data into c. It walks the document against c's fields
// itself, so an unknown key or a badly typed value is reported with its full
// dotted path and line, which yaml's own errors ("field x not found in type
// config.RMQ") do not give; a strict yaml.Decoder pass backs it up.
func decodeYAML(name string, data []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file is all defaults
		}
		return &Error{Source: name, Msg: strings.TrimPrefix(err.Error(), "yaml: "), Err: errors.Join(walimpls.ErrInvalidArgument, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return &Error{Source: fmt.Sprintf("%s:%d", name, extra.Line), Msg: "more than one YAML document", Err: walimpls.ErrInvalidArgument}
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return &Error{Source: fmt.Sprintf("%s:%d", name, root.Line), Msg: "the top level must be a mapping of keys (backend, rmq, kafka, ...)", Err: walimpls.ErrInvalidArgument}
	}
	if err := walk(name, root, reflect.ValueOf(c).Elem(), "", c.sources); err != nil {
		return err
	}
	// Backstop: the strict decoder must agree that every key is known.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	shadow := Default()
	// Type mismatches are not its business: the walk accepted a list written
	// as one string, which yaml's own decoder refuses.
	var te *yaml.TypeError
	if err := strict.Decode(shadow); errors.As(err, &te) {
		for _, msg := range te.Errors {
			if strings.Contains(msg, "not found in type") {
				return &Error{Source: name, Msg: msg, Err: errors.Join(walimpls.ErrInvalidArgument, err)}
			}
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// isSection reports whether t is a nested mapping rather than a leaf value.
func isSection(t reflect.Type) bool {
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

func walk(file string, n *yaml.Node, v reflect.Value, prefix string, sources map[string]string) error {
	known, names := fields(v.Type())
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
		idx, ok := known[k.Value]
		if !ok {
			return &Error{Key: key, Source: at, Msg: fmt.Sprintf("unknown key (known here: %s)", strings.Join(names, ", ")), Err: walimpls.ErrInvalidArgument}
		}
		f := v.Field(idx)
		sources[key] = at
		if isSection(f.Type()) {
			if isNull(val) {
				continue // "kafka:" with nothing under it keeps the defaults
			}
			if val.Kind != yaml.MappingNode {
				return &Error{Key: key, Source: at, Msg: "must be a mapping of keys", Err: walimpls.ErrInvalidArgument}
			}
			if err := walk(file, val, f, key, sources); err != nil {
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
