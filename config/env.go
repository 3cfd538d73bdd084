package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mqwal/mqwal/walimpls"
)

// EnvPrefix starts every environment variable Load reads.
const EnvPrefix = "MQWAL_"

// EnvVar is the environment variable that overrides key ("rmq.path" ->
// "MQWAL_RMQ_PATH"): dots, and dashes of backend names, become
// underscores, so the name is one a shell can set.
func EnvVar(key string) string {
	return EnvPrefix + strings.ToUpper(envReplacer.Replace(key))
}

var envReplacer = strings.NewReplacer(".", "_", "-", "_")

// Keys lists every configuration key of this build as dotted paths: the top
// level, then each registered backend's section by name. EnvVar gives each
// one's environment variable.
func Keys() []string {
	var keys []string
	for _, k := range Reference() {
		keys = append(keys, k.Key)
	}
	return keys
}

// Key describes one configuration key.
type Key struct {
	// Key is the dotted path ("kafka.brokers").
	Key string
	// Env is its environment variable ("MQWAL_KAFKA_BROKERS").
	Env string
	// Backend is the section it belongs to, "" for the top level.
	Backend string
	// Type says what a value looks like ("a duration such as 500ms or 10s").
	Type string
	// Default is the default value as it would be written in the file; ""
	// when there is none (an empty string, an empty list, unset).
	Default string
}

// Reference describes every key of this build, from what the registered
// drivers declared: what `walctl backends` prints.
func Reference() []Key {
	var keys []Key
	_ = Default().eachLeaf(func(key string, f reflect.Value) error {
		backend, _, _ := strings.Cut(key, ".")
		if backend == "backend" || backend == "adaptor" || backend == "log" {
			backend = ""
		}
		keys = append(keys, Key{Key: key, Env: EnvVar(key), Backend: backend, Type: describe(f.Type()), Default: format(f)})
		return nil
	})
	return keys
}

// format writes a value as it would be written in the file; "" for none.
func format(f reflect.Value) string {
	switch {
	case f.Type() == durationType:
		return f.Interface().(time.Duration).String()
	case f.Kind() == reflect.Pointer:
		if f.IsNil() {
			return ""
		}
		return format(f.Elem())
	case f.Kind() == reflect.Slice:
		return strings.Join(f.Interface().([]string), ",")
	}
	return fmt.Sprint(f.Interface())
}

// eachLeaf calls fn for every leaf of c with its dotted key: the top-level
// fields, then each section's under its name.
func (c *Config) eachLeaf(fn func(key string, f reflect.Value) error) error {
	if err := eachLeaf(reflect.ValueOf(c).Elem(), "", fn); err != nil {
		return err
	}
	for _, name := range c.sectionNames() {
		if err := eachLeaf(reflect.ValueOf(c.sections[name]).Elem(), name, fn); err != nil {
			return err
		}
	}
	return nil
}

// eachLeaf calls fn for every leaf field of struct v with its dotted key.
func eachLeaf(v reflect.Value, prefix string, fn func(key string, f reflect.Value) error) error {
	idx, names := fields(v.Type())
	for _, name := range names {
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		f := v.Field(idx[name])
		if isMapping(f.Type()) {
			if err := eachLeaf(f, key, fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(key, f); err != nil {
			return err
		}
	}
	return nil
}

// checkShape reports a section field of a type config cannot decode: a bug
// in the driver, named before it can make a key silently unusable.
func checkShape(name string, s any) error {
	return eachLeaf(reflect.ValueOf(s).Elem(), name, func(key string, f reflect.Value) error {
		t := f.Type()
		switch {
		case t == durationType, t.Kind() == reflect.String, t.Kind() == reflect.Bool, t.Kind() == reflect.Int,
			t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Int,
			t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
			return nil
		}
		return &Error{Key: key, Msg: fmt.Sprintf("the driver's section field has Go type %s, which config cannot decode (see package walimpls/section)", t), Err: walimpls.ErrInvalidArgument}
	})
}

// applyEnv overrides c with every non-empty MQWAL_* variable lookup finds.
func applyEnv(c *Config, lookup func(string) (string, bool)) error {
	if lookup == nil {
		return nil
	}
	return c.eachLeaf(func(key string, f reflect.Value) error {
		name := EnvVar(key)
		s, ok := lookup(name)
		if !ok || s == "" {
			return nil
		}
		if err := setFromString(f, s); err != nil {
			return &Error{Key: key, Source: name, Msg: err.Error(), Err: walimpls.ErrInvalidArgument}
		}
		c.sources[key] = name
		return nil
	})
}

// unknownEnv warns of each non-empty MQWAL_* variable in environ that is no
// key of c: a misspelt name would otherwise be a setting silently not
// applied.
func unknownEnv(c *Config, environ []string) {
	known := map[string]bool{}
	_ = c.eachLeaf(func(key string, _ reflect.Value) error {
		known[EnvVar(key)] = true
		return nil
	})
	var unknown []string
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) && val != "" && !known[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	names := slices.Sorted(maps.Keys(known))
	for _, name := range unknown {
		if b, imp := builtinOf(name); imp != "" && c.sections[b] == nil {
			c.warn(&Error{Source: name, Msg: "ignored: " + notRegistered(b, imp)})
			continue
		}
		near, d := nearest(name, names)
		if d <= max(2, len(name)/5) {
			c.warn(&Error{Source: name, Msg: fmt.Sprintf("unknown variable, ignored; did you mean %s?", near)})
		} else {
			c.warn(&Error{Source: name, Msg: fmt.Sprintf("unknown variable, ignored (the nearest known is %s; walctl backends lists them all)", near)})
		}
	}
}

// nearest returns the name in names closest to s by edit distance, and the
// distance.
func nearest(s string, names []string) (string, int) {
	best, bestD := "", -1
	for _, n := range names {
		if d := editDistance(s, n); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	return best, bestD
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func setFromString(f reflect.Value, s string) error {
	t := f.Type()
	switch {
	case t == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("must be %s, got %q", describe(t), s)
		}
		f.Set(reflect.ValueOf(d))
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := setFromString(p.Elem(), s); err != nil {
			return err
		}
		f.Set(p)
	case t.Kind() == reflect.String:
		f.SetString(s)
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("must be %s, got %q", describe(t), s)
		}
		f.SetBool(b)
	case t.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("must be %s, got %q", describe(t), s)
		}
		f.SetInt(int64(n))
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		f.Set(reflect.ValueOf(splitList(s)))
	default:
		return fmt.Errorf("unsupported type %s", t)
	}
	return nil
}
