// Package config turns a YAML file plus MQWAL_* environment variables into the
// driver builder of the backend they name, so a program picks its message
// system by name without code changes.
//
//	backend: kafka            # rmq (default), memory, kafka, pulsar, or any registered name
//	adaptor:
//	  close_timeout: 10s
//	log:
//	  level: warn             # off (default), error, warn, info, debug
//	rmq:
//	  path: ./mqwal-data
//	kafka:
//	  brokers: [localhost:9092]
//
// config knows only the top level: backend, adaptor (the write-ahead cache,
// flow control, close timeout and message size limit every backend gets)
// and log. Each backend's section ("kafka:") belongs to its driver, which
// registers it (walimpls/registry.RegisterSection, contract in
// walimpls/section) when the program imports it; config imports no driver.
// A program therefore imports the drivers it may use:
//
//	import _ "github.com/mqwal/mqwal/impls/kafka"
//
// and a config naming a built-in backend it did not import says which import
// is missing. A driver from another module takes part the same way.
//
// Precedence, lowest first: built-in defaults, the file, the environment,
// WithBackend (the CLI's --backend), and options the program passes to
// OpenerBuilder. Every key has an environment variable: MQWAL_ followed by
// its path in upper case with dots as underscores (rmq.path is
// MQWAL_RMQ_PATH, kafka.sasl.password is MQWAL_KAFKA_SASL_PASSWORD); lists
// are comma separated and an empty variable counts as unset. With no file
// and no variables the backend is rmq in ./mqwal-data. config is the only
// place mqwal reads the environment: drivers never do.
//
// Loading is strict: an unknown key, a value of the wrong type or an invalid
// value fails with an *Error naming the key (and the file line or variable
// it came from), wrapping walimpls.ErrInvalidArgument; a backend nobody
// registered wraps walimpls.ErrUnknownBackend and lists the registered ones.
// Sections of backends other than the selected one are checked too, except
// for what only the selected backend requires (kafka.brokers, pulsar.url).
// Problems that do not stop loading (a misspelt MQWAL_* variable, an empty
// file) are warnings: see Config.Warnings.
//
// Metrics are wired by the program: cfg.OpenerBuilder(adaptor.WithHooks(m))
// with m from adaptor/prommetrics. config imports no metrics library, so
// reading a config never links client_golang.
package config
