# geodrill — `make scenario` runs the default drill; `make test` runs the test suite.
# Every binary is built from pinned versions into ./bin on first use.

GO            ?= go
BIN           := $(CURDIR)/bin
# The MinIO server, built from the Go module proxy at a pinned pseudo-version.
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_STAMP   := $(BIN)/.minio-$(MINIO_VERSION)
SCENARIO      ?= scenarios/region-outage.yaml
TEST_TIMEOUT  ?= 25m

export GEODRILL_BIN := $(BIN)
export GOTOOLCHAIN  := local

.PHONY: all build scenario test selftest lint vet fmt-check chaos clean FORCE

all: build

build: $(BIN)/harness $(BIN)/refstack $(BIN)/minio

# go build is incremental, so always asking it is cheap and never stale.
$(BIN)/harness: FORCE
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./cmd/harness

$(BIN)/refstack: FORCE
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./cmd/refstack

$(BIN)/minio: $(MINIO_STAMP)

$(MINIO_STAMP):
	@mkdir -p $(BIN)
	@echo "building the MinIO server $(MINIO_VERSION) (first time only, a few minutes)"
	cd $(BIN) && GOBIN=$(BIN) CGO_ENABLED=0 GOFLAGS=-mod=mod $(GO) install github.com/minio/minio@$(MINIO_VERSION)
	@rm -f $(BIN)/.minio-* && touch $@

# The default drill: 3 regions, sync-geo, the busiest region killed under load.
scenario: build
	$(BIN)/harness run $(SCENARIO)

test: build
	GEODRILL_REQUIRE_INTEGRATION=1 GOTRACEBACK=all $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

# The bug matrix: every unsafe switch against the scenario that must expose it, and the healthy
# stack on the same scenarios (several full drills, a few minutes; not part of make test).
# The observed table is written to runs/selftest/matrix.md.
selftest: build
	GEODRILL_SELFTEST=1 GOTRACEBACK=all $(GO) test -count=1 -timeout 40m -v -run TestBugMatrix ./selftest/

lint: vet fmt-check

vet:
	$(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf runs $(BIN)/harness $(BIN)/refstack

FORCE:
