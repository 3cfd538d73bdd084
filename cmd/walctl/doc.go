// Command walctl is mqwal from a shell: append to and scan channels, truncate
// them, describe them (stat), benchmark a backend, verify it under a long
// concurrent load and faults (verify), run the conformance suite against a
// live broker, and start in-process Kafka or Pulsar brokers for development.
//
// The backend comes from --config FILE (YAML, see package config), the
// MQWAL_* environment, or --backend NAME; with none of them it is the
// embedded rmq store in ./mqwal-data, so on a fresh clone
//
//	go run ./cmd/walctl bench
//
// appends and reads back ten thousand messages with no server.
//
// Errors are one line on stderr and exit status 1; status 2 is a command-line
// mistake. Ctrl-C (or SIGTERM) ends every command within a second: scan
// --follow, dev-broker and verify (after writing its report) with status 0,
// the others with status 1 after saying how far they got; a second one ends
// walctl at once.
package main
