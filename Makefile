# Lumbung build and test entry points. `make test` is what CI runs (.ci/run).
GO ?= go
PKGS := ./...

.PHONY: all build test test-deps test-short vet fuzz-smoke purego cross bench demo

all: build

build:
	$(GO) build -o lumbung ./cmd/lumbung

demo:
	$(GO) run ./cmd/lumbung demo

# The whole suite: static checks, unit and integration tests with the race
# detector, the kill -9 crash test, a short fuzz pass over every decoder, and
# cross-compilation for every supported platform. The integration tests run
# against real servers (internal/testservers), which test-deps installs;
# LUMBUNG_REQUIRE_SERVERS=1 makes a missing server fail the run, never skip.
test: test-deps vet
	LUMBUNG_REQUIRE_SERVERS=1 $(GO) test -race -timeout 30m $(PKGS)
	LUMBUNG_REQUIRE_SERVERS=1 LUMBUNG_CRASH_ITERATIONS=$${LUMBUNG_CRASH_ITERATIONS:-25} $(GO) test -timeout 20m -run 'TestCrash' -count=1 ./internal/crashtest/
	$(GO) test -count=1 ./internal/hugepage/  # heap placement, which -race changes
	$(MAKE) fuzz-smoke
	$(MAKE) purego
	$(MAKE) cross

# Builds without cgo (cross-compiled binaries, CGO_ENABLED=0) compress with
# klauspost/compress instead of libzstd: the packages that differ are tested
# that way too.
purego:
	CGO_ENABLED=0 $(GO) test -count=1 ./internal/zstdenc/ ./internal/repository/ ./internal/archiver/ ./internal/restorer/

# The real servers the integration tests start (MinIO for S3, PostgreSQL).
test-deps:
	scripts/install-test-deps.sh

# Fast, hermetic unit tests only.
test-short:
	$(GO) test -short $(PKGS)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	GOOS=windows GOARCH=amd64 $(GO) vet $(PKGS)

FUZZTIME ?= 20000x
fuzz-smoke:
	FUZZTIME=$(FUZZTIME) scripts/fuzz-smoke.sh

cross:
	GOOS=linux GOARCH=amd64 $(GO) build -o /dev/null ./cmd/lumbung
	GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./cmd/lumbung
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/lumbung

bench:
	bench/run.sh
