package config

import (
	"fmt"
	"strings"
)

// builtin maps the backends of this module to their packages. config imports
// none of them; the table only lets a config that names one that is not
// compiled in say which import is missing.
var builtin = map[string]string{
	"kafka":  "github.com/mqwal/mqwal/impls/kafka",
	"memory": "github.com/mqwal/mqwal/impls/memory",
	"pulsar": "github.com/mqwal/mqwal/impls/pulsar",
	"rmq":    "github.com/mqwal/mqwal/impls/rmq",
}

// builtinImport is the import path of built-in backend name, "" for another.
func builtinImport(name string) string { return builtin[name] }

// builtinOf finds the built-in backend whose variables env would be
// (MQWAL_PULSAR_URL: pulsar) and its import path.
func builtinOf(env string) (string, string) {
	for name, imp := range builtin {
		if strings.HasPrefix(env, EnvVar(name)+"_") {
			return name, imp
		}
	}
	return "", ""
}

// notRegistered says that built-in backend name is not compiled in, and how
// to compile it in.
func notRegistered(name, imp string) string {
	return fmt.Sprintf("backend %q is not registered: import _ %q", name, imp)
}
