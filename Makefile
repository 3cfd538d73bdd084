# mqwal — common tasks. `make help` lists them.
GO ?= go
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# docker-compose.yml profiles for up / test-integration: one Kafka API
# broker (kafka3, kafka4 or redpanda) and one Pulsar (pulsar3 or pulsar4) at
# a time, and kafka-cluster (three Kafka nodes) beside them.
PROFILE ?= kafka3 pulsar3

.PHONY: help build test test-race bench lint generate ci up down test-integration

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## compile every package and command
	$(GO) build ./...

test: ## unit, conformance and embedded-broker tests
	$(GO) test ./...

test-race: ## the CI test command
	$(GO) test -race ./...

bench: ## benchmarks with their raw baselines, 5 runs each, summarized by benchstat
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./... | tee bench.txt
	$(BENCHSTAT) bench.txt

lint: ## gofmt, go vet, golangci-lint (staticcheck, errcheck, errorlint), actionlint, shellcheck on .ci (when installed)
	bash .ci/lint

generate: ## regenerate the Pulsar protocol subset (needs Debian's protobuf-compiler)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" $(GO) generate ./impls/pulsar/pulsartest/

up: ## start the brokers of PROFILE (default: kafka3 pulsar3) in Docker, wait until healthy
	bash .ci/integration up $(PROFILE)

down: ## stop every profile's brokers and drop their data
	bash .ci/integration down

test-integration: ## against PROFILE's brokers: integration suite (external + container mode with faults) and walctl conformance
	bash .ci/integration test $(PROFILE)

ci: ## what CI runs
	bash .ci/run
