// Package integration runs the conformance harness (walimplstest) over every
// backend in every mode, each built through package config as an application
// would build it:
//
//   - embedded, always: rmq in a temporary directory, memory, Kafka on
//     kafkatest (with a broker restart fault) and Pulsar on pulsartest, in
//     this process;
//   - containers: Apache Kafka (KRaft), Redpanda and Pulsar standalone
//     started with testcontainers-go from the images and settings of a
//     docker-compose.yml service, each run once more with the history
//     checker while the container is stopped and started again (no acked
//     message lost, none duplicated, IDs increasing across the restart).
//     MQWAL_IT_CONTAINERS selects them (unset: all, skipped when no Docker
//     engine answers; "none"; or a list of kafka, redpanda, pulsar, which
//     then fail without Docker); MQWAL_IT_KAFKA_SERVICE and
//     MQWAL_IT_PULSAR_SERVICE pick the compose service (default kafka3,
//     pulsar3);
//   - external: the brokers named by MQWAL_KAFKA_BROKERS and MQWAL_PULSAR_URL
//     (a docker-compose.yml profile: make up PROFILE=..., then
//     make test-integration PROFILE=...), and the three-node Kafka of the
//     kafka-cluster profile named by MQWAL_IT_KAFKA_CLUSTER, whose history
//     checker runs while partition leaders move and while a broker is
//     stopped; each skipped when unset, and failing loudly when set but
//     unreachable.
//
// Tests that need no broker hold docker-compose.yml, the CI matrix
// (.github/workflows/integration.yml) and .ci/integration to one list of
// profiles and the brokers to the settings the drivers rely on.
//
// The package has tests only.
package integration
