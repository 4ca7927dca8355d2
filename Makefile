# Targets a newcomer can guess. `make run` and `make test` are the two commands the README
# promises on a fresh machine.

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all help build run test lint bench clean opensearch

all: build

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## assets: install the pinned browser libraries from npm into webapp/static/vendor (no CDN)
.PHONY: assets
assets:
	scripts/assets.sh

## build: compile bin/infowork (cgo on: gojieba is C++)
build: assets
	CGO_ENABLED=1 $(GO) build -o bin/infowork ./cmd/infowork

## run: build, then serve http://127.0.0.1:8080 with demo data (private PostgreSQL unless INFOWORK_DATABASE_URL is set)
run: build
	bin/infowork serve --demo

## test: the whole suite against a real PostgreSQL (what CI runs)
test:
	scripts/test.sh

## security: go vet, gosec, govulncheck (offline DB) and short fuzz runs (CI runs it after test; docs/ci.md)
.PHONY: security fuzz
security:
	scripts/security.sh

## fuzz: every fuzz target for FUZZTIME each (default 10s), e.g. `make fuzz FUZZTIME=2m`
fuzz:
	scripts/fuzz.sh

## lint: gofmt, go vet and staticcheck
lint:
	@unformatted=$$(find . \( -name .data -o -name .git -o -name node_modules \) -prune -o -name '*.go' -print | xargs -r gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## bench: performance harness at BENCH_DOCS (100000) documents against PostgreSQL FTS and OpenSearch; appends to BENCHMARKS.md (docs/benchmarks.md). 1M: `make bench BENCH_DOCS=1000000`
BENCH_DOCS       ?= 100000
BENCH_OPENSEARCH ?= http://127.0.0.1:9209
BENCH_HTTP_STEPS ?= 100,200,400,600,800
BENCH_FLAGS      ?=
bench: build
	@if [ "$(BENCH_OPENSEARCH)" = "http://127.0.0.1:9209" ] && ! curl -fs -o /dev/null "$(BENCH_OPENSEARCH)"; then \
		deploy/opensearch-dev/run.sh start --port 9209 --data "$(CURDIR)/.data/opensearch-test" || true; fi
	@os="$(BENCH_OPENSEARCH)"; if [ "$$os" != none ] && ! curl -fs -o /dev/null "$$os"; then \
		echo "bench: OpenSearch not reachable at $$os: running without it"; os=none; fi; \
	bin/infowork bench --docs $(BENCH_DOCS) --opensearch "$$os" --http-steps "$(BENCH_HTTP_STEPS)" $(BENCH_FLAGS)

## bench-go: the Go micro-benchmarks (go test -bench)
.PHONY: bench-go
bench-go:
	$(GO) test -run '^$$' -bench . ./...

## clean: remove build output and stop/remove the shared test cluster
clean:
	-@[ ! -d .data/testpg ] || $(GO) run ./scripts/testpg stop
	-@[ ! -d .data/opensearch-test ] || deploy/opensearch-dev/run.sh stop --data "$(CURDIR)/.data/opensearch-test"
	rm -rf bin .data/testpg .data/testpg.lock .data/opensearch-test

## opensearch: start a local OpenSearch 2.19 node on http://127.0.0.1:9200 (Maven Central jars; deploy/opensearch-dev)
opensearch:
	deploy/opensearch-dev/run.sh start

## opensearch-stop: stop the node(s) started by `make opensearch`
.PHONY: opensearch-stop
opensearch-stop:
	deploy/opensearch-dev/run.sh stop

## backup-drill: base backup + WAL archive + point-in-time restore on a throw-away cluster, checked by counts and checksums
.PHONY: backup-drill
backup-drill:
	deploy/postgres/backup-drill.sh
