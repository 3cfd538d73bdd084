// Package config turns a YAML file plus MQWAL_* environment variables into the
// driver builder of the backend they name, so a program picks its message
// system by name without code changes.
//
//	backend: kafka            # rmq (default), memory, kafka, pulsar, or any registered name
//	rmq:
//	  path: ./mqwal-data
//	  sync: sync              # sync | group | none
//	kafka:
//	  brokers: [localhost:9092]
//	  topic_prefix: wal-
//	pulsar:
//	  url: pulsar://localhost:6650
//
// Precedence, lowest first: built-in defaults, the file, the environment, and
// options given to Load (the CLI's --backend). Every key has an environment
// variable: MQWAL_ followed by its path in upper case with dots as
// underscores (rmq.path is MQWAL_RMQ_PATH, kafka.sasl.password is
// MQWAL_KAFKA_SASL_PASSWORD); lists are comma separated and an empty variable
// counts as unset. With no file and no variables the backend is rmq in
// ./mqwal-data.
//
// Loading is strict: an unknown key, a value of the wrong type or an invalid
// value fails with an *Error naming the key (and the file line or variable
// it came from), wrapping walimpls.ErrInvalidArgument; a backend nobody
// registered wraps walimpls.ErrUnknownBackend and lists the registered ones.
// Sections of backends other than the selected one are checked too, except
// for what only the selected backend requires (kafka.brokers, pulsar.url).
//
// Each backend's section lives in its own file and knows how to become its
// driver's builder; a backend registered in walimpls/registry without a section
// here is built from the registry with its own defaults.
package config
