# mqwal — common tasks. `make help` lists them.
GO ?= go
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

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

lint: ## go vet and a gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

generate: ## regenerate the Pulsar protocol subset (needs Debian's protobuf-compiler)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" $(GO) generate ./impls/pulsar/pulsartest/

up: ## start Kafka (KRaft) and Pulsar standalone in Docker and wait until healthy
	docker compose up -d --wait

down: ## stop them and drop their data
	docker compose down -v

test-integration: ## the harness against the brokers of `make up` (external mode)
	MQWAL_KAFKA_BROKERS=localhost:9092 MQWAL_PULSAR_URL=pulsar://localhost:6650 $(GO) test -count=1 -v ./integration/

ci: ## what CI runs
	bash .ci/run
