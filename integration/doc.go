// Package integration runs the conformance harness (walimplstest) over every
// backend in every mode, each built through package config as an application
// would build it:
//
//   - embedded, always: rmq in a temporary directory, memory, Kafka on
//     kafkatest and Pulsar on pulsartest, in this process;
//   - containers: Kafka (KRaft) and Pulsar standalone started with
//     testcontainers-go; skipped when no Docker engine answers;
//   - external: the brokers named by MQWAL_KAFKA_BROKERS and MQWAL_PULSAR_URL
//     (for instance the docker-compose.yml services: make up, then
//     make test-integration); skipped when unset, and failing loudly when set
//     but unreachable.
//
// The package has tests only.
package integration
