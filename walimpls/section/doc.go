// Package section is the contract between package config and a driver's part
// of the configuration file: the "kafka:" mapping and what is under it, with
// its MQWAL_KAFKA_* environment variables.
//
// A driver owns its section. It declares a struct whose exported fields carry
// yaml tags, gives its defaults, checks its values with the key path in every
// problem, and turns the checked values into its walimpls builder; it
// registers a constructor with registry.RegisterSection in init, beside its
// builder. Package config knows none of them: it decodes the file and the
// environment into whichever sections are registered, so a program links only
// the drivers it imports, and a driver from another module takes part in
// config files as the built-in ones do.
//
// Field types config can decode: string, bool, int, *int (nil when the key
// is absent), time.Duration ("500ms"), []string (a YAML list, or one
// comma-separated string as in the environment), and a struct of these for a
// nested mapping ("timeouts:"). Every key has an environment variable:
// MQWAL_ followed by the section name and the key path in upper case, dots
// as underscores (kafka.sasl.password is MQWAL_KAFKA_SASL_PASSWORD).
//
// The helpers (TLS, HostPort, BadNameChar, Positive, StatFile) are checks two
// built-in drivers share; other drivers may use them.
package section
