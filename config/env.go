package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/mqwal/mqwal/walimpls"
)

// EnvPrefix starts every environment variable Load reads.
const EnvPrefix = "MQWAL_"

// EnvVar is the environment variable that overrides key ("rmq.path" ->
// "MQWAL_RMQ_PATH").
func EnvVar(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every configuration key in file order, as dotted paths; EnvVar
// gives each one's environment variable.
func Keys() []string {
	var keys []string
	eachLeaf(reflect.ValueOf(Default()).Elem(), "", func(key string, _ reflect.Value) error {
		keys = append(keys, key)
		return nil
	})
	return keys
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
		if isSection(f.Type()) {
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

// applyEnv overrides c with every non-empty MQWAL_* variable lookup finds.
func applyEnv(c *Config, lookup func(string) (string, bool)) error {
	if lookup == nil {
		return nil
	}
	return eachLeaf(reflect.ValueOf(c).Elem(), "", func(key string, f reflect.Value) error {
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
