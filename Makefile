# geodrill — `make scenario` runs the default drill; `make test` runs the test suite.
# Every binary is built from pinned versions into ./bin on first use.

GO            ?= go
BIN           := $(CURDIR)/bin
# The MinIO server, built from the Go module proxy at a pinned pseudo-version.
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_STAMP   := $(BIN)/.minio-$(MINIO_VERSION)
SCENARIO      ?= scenarios/region-outage.yaml
TEST_TIMEOUT  ?= 25m

# Headless Chromium opens report.html in the report check; scripts/install-chromium.sh
# installs Debian's package when it is missing.
CHROMIUM      ?= /usr/bin/chromium

export GEODRILL_BIN := $(BIN)
export GOTOOLCHAIN  := local

.PHONY: all build scenario kind-scenario kind-down ha-tools ha-drills test fuzz selftest failover lint vet fmt-check staticcheck chaos netns-tools k8s-tools clean bench report-check FORCE

all: build

build: $(BIN)/harness $(BIN)/refstack $(BIN)/minio $(BIN)/adapter

# go build is incremental, so always asking it is cheap and never stale.
$(BIN)/harness: FORCE
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./cmd/harness

# The contract in front of systems that do not speak it (adapters/).
$(BIN)/adapter: FORCE
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./cmd/adapter

# Static (no cgo): the docker provider copies it into a FROM scratch image.
$(BIN)/refstack: FORCE
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $@ ./cmd/refstack

$(BIN)/minio: $(MINIO_STAMP)

$(MINIO_STAMP):
	@mkdir -p $(BIN)
	@echo "building the MinIO server $(MINIO_VERSION) (first time only, a few minutes)"
	cd $(BIN) && GOBIN=$(BIN) CGO_ENABLED=0 GOFLAGS=-mod=mod $(GO) install github.com/minio/minio@$(MINIO_VERSION)
	@rm -f $(BIN)/.minio-* && touch $@

# For the kind provider's dry-run test (clusters/kind): Kubernetes' API server, v1.34.3,
# built from its module through tools/kube-apiserver (about 3 minutes, first time only),
# and Chaos Mesh's CRDs, generated from its API types (the version in go.mod) by
# controller-gen, pinned.
CONTROLLER_GEN_VERSION := v0.23.0
CRDS_STAMP := $(BIN)/.chaos-mesh-crds-$(CONTROLLER_GEN_VERSION)
k8s-tools: $(BIN)/kube-apiserver $(CRDS_STAMP)

$(BIN)/kube-apiserver: tools/kube-apiserver/go.mod tools/kube-apiserver/go.sum tools/kube-apiserver/main.go
	@mkdir -p $(BIN)
	@echo "building kube-apiserver v1.34.3 (first time only, a few minutes)"
	cd tools/kube-apiserver && CGO_ENABLED=0 $(GO) build -trimpath -o $@ .

$(CRDS_STAMP): go.mod go.sum
	@mkdir -p $(BIN)
	rm -rf $(BIN)/chaos-mesh-crds.tmp && mkdir -p $(BIN)/chaos-mesh-crds.tmp
	$(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION) \
		crd paths=github.com/chaos-mesh/chaos-mesh/api/v1alpha1 output:crd:dir=$(BIN)/chaos-mesh-crds.tmp
	rm -rf $(BIN)/chaos-mesh-crds && mv $(BIN)/chaos-mesh-crds.tmp $(BIN)/chaos-mesh-crds
	@rm -f $(BIN)/.chaos-mesh-crds-* && touch $@

# The default drill: 3 regions, sync-geo, the busiest region killed under load.
scenario: build
	$(BIN)/harness run $(SCENARIO)

# The default drill on kind, where registries are reachable (README "Kubernetes (kind)"):
# kind, kubectl, Docker and Helm must be on PATH (nothing is installed here). Creates the
# three clusters from fixtures/kind unless they exist, installs Chaos Mesh in each unless
# it is there, runs the drill with its run directory under the directory every node mounts.
# The clusters stay for the next run; make kind-down deletes them.
KIND_MOUNT         := /tmp/geodrill-kind
CHAOS_MESH_VERSION := 2.8.2
kind-scenario: build
	@for t in kind kubectl docker helm; do command -v $$t >/dev/null || { echo "kind-scenario needs $$t on PATH (README: Kubernetes (kind))"; exit 11; }; done
	mkdir -p $(KIND_MOUNT)
	for r in a b c; do kind get clusters | grep -qx geodrill-$$r || kind create cluster --config fixtures/kind/region-$$r.yaml --wait 180s; done
	helm repo add chaos-mesh https://charts.chaos-mesh.org >/dev/null 2>&1 || true
	for r in a b c; do helm status chaos-mesh -n chaos-mesh --kube-context kind-geodrill-$$r >/dev/null 2>&1 || \
	  helm install chaos-mesh chaos-mesh/chaos-mesh --version $(CHAOS_MESH_VERSION) -n chaos-mesh --create-namespace \
	    --kube-context kind-geodrill-$$r -f fixtures/chaos-mesh/values.yaml --wait --timeout 5m; done
	$(BIN)/harness run --provider kind --out $(KIND_MOUNT)/runs $(SCENARIO)

kind-down:
	-$(BIN)/harness down
	for r in a b c; do kind delete cluster --name geodrill-$$r || true; done

# One package at a time (-p 1): several packages run real drills (drill, cmd/harness's docker
# tests, clusters/local), and two drills at once on 2 cores starve each other's etcd; seen
# on a fresh clone, where the docker tests first build their image while drill/'s region
# outage ran (p50 latency 1.4s, RTO never reached). The docker provider's tests need a
# Docker engine: scripts/docker.sh installs Debian's docker.io when missing and starts
# dockerd when none answers (root), and stops afterwards only a dockerd it started.
test: build $(CHROMIUM) netns-tools k8s-tools ha-tools
	./scripts/docker.sh up >/dev/null
	GEODRILL_REQUIRE_INTEGRATION=1 GEODRILL_REQUIRE_CHROMIUM=1 GEODRILL_REQUIRE_DOCKER=1 GOTRACEBACK=all \
		$(GO) test -race -count=1 -p 1 -timeout $(TEST_TIMEOUT) ./...; rc=$$?; ./scripts/docker.sh down; exit $$rc
	$(MAKE) fuzz

# Fuzz the readers of what users and saved runs hand us (the scenario decoder, the history
# and timeline readers), each for FUZZTIME from the seed corpus in the repository; a crash
# is saved under the package's testdata/fuzz/ and fails the target.
FUZZTIME     ?= 10s
FUZZ_TARGETS := ./scenarios:FuzzParse ./timeline:FuzzReadJSONL ./workload/history:FuzzReadJSONL
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# The bug matrix: the healthy stack and every unsafe switch in selftest/matrix.go over the default
# suite (scenarios/selftest/) and SEEDS seeds, through the real CLI on real processes (about
# 145 drills of ~30s, about 1h20m on 2 cores; not part of make test). Each switch
# must be caught on at least 4 of 5 seeds and the healthy stack must pass every drill.
# ONLY=a,b,healthy runs some rows.
# The observed table is written to runs/selftest/matrix.md (and matrix.json).
SEEDS ?= 5
ONLY  ?=
# The provider make selftest and make chaos run on instead of the scenarios' own (docker).
PROVIDER ?=
# PROVIDER=docker runs every drill in containers (scripts/docker.sh starts Docker).
selftest: build
	$(if $(filter docker,$(PROVIDER)),./scripts/docker.sh up >/dev/null)
	GEODRILL_SELFTEST=1 GEODRILL_SELFTEST_SEEDS=$(SEEDS) GEODRILL_SELFTEST_ONLY=$(ONLY) GEODRILL_SELFTEST_PROVIDER=$(PROVIDER) GOTRACEBACK=all \
		$(GO) test -count=1 -timeout 180m -v -run TestBugMatrix ./selftest/

# Failover figures (several full drills, about 7 minutes; not part of make test): the RTO
# distribution of the region outage over 5 seeds with the controller revoking the dead
# region's lease, the same with a 5s lease (RTO must stay below it), and automatic fail-back.
failover: build
	$(BIN)/harness run --repeat 5 scenarios/region-outage.yaml
	$(BIN)/harness run --repeat 5 scenarios/region-outage-revoke.yaml
	$(BIN)/harness run scenarios/failback.yaml

# The fault library's scenarios on the netns provider (root; about 10 minutes, not part of make
# test): partitions, WAN degradation, object-store and etcd outages, clock skew, replies lost
# after delivery, a host in a crash loop, the two-minute nemesis, a false failure declaration and a fault triggered by
# a failover. Every one must pass; `harness down` then checks nothing is left.
CHAOS_SCENARIOS ?= partition-isolate-owner heal-then-leader-loss cert-expiry wan-degradation object-store-outage etcd-quorum-loss clock-skew reply-loss crash-loop nemesis false-revocation double-fault
# PROVIDER=docker runs them in containers instead (scripts/docker.sh starts Docker).
chaos: build netns-tools
	$(if $(filter docker,$(PROVIDER)),./scripts/docker.sh up >/dev/null)
	$(BIN)/harness run $(if $(PROVIDER),--provider $(PROVIDER)) $(foreach s,$(CHAOS_SCENARIOS),scenarios/$(s).yaml); rc=$$?; $(BIN)/harness down; exit $$rc

# ip, nft and iptables (its NFQUEUE target holds packets for delays) for the netns and
# docker providers: installed, at Debian 12's versions, when running as root and missing.
NETNS_PACKAGES := nftables=1.0.6-2+deb12u2 iproute2=6.1.0-3 iptables=1.8.9-2
netns-tools:
	@if [ "$$(id -u)" = 0 ] && ! { command -v nft && command -v ip && command -v iptables; } >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $(NETNS_PACKAGES); fi

# The real HA stacks the described-system scenarios drill (README "What geodrill measured on
# real HA stacks"): Debian's Redis and Sentinel, Patroni and PostgreSQL 15, pinned. Installed without starting Debian's
# own service (policy-rc.d), so nothing listens on the default ports; the scenarios start
# their own processes.
HA_PACKAGES := redis-server=5:7.0.15-1~deb12u10 redis-sentinel=5:7.0.15-1~deb12u10 redis-tools=5:7.0.15-1~deb12u10 \
	patroni=3.0.2-1 postgresql-15=15.20-0+deb12u1
ha-tools:
	@if ! { command -v redis-server && command -v redis-sentinel && command -v patroni && [ -x /usr/lib/postgresql/15/bin/postgres ]; } >/dev/null 2>&1; then \
		if [ "$$(id -u)" != 0 ]; then echo "ha-tools: redis, patroni or postgresql-15 missing; as root: make ha-tools"; exit 0; fi; \
		made=; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made=1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(HA_PACKAGES); \
		rc=$$?; [ -z "$$made" ] || rm -f /usr/sbin/policy-rc.d; exit $$rc; fi

# The README's table "What geodrill measured on real HA stacks": every real-HA-stack scenario,
# HA_SEEDS drills each (seeds 1..N), one at a time; about 40 minutes at 5 seeds (the
# partitions need root). make test drills Redis and Patroni in synchronous mode once each,
# with a region outage and with a partition.
HA_SCENARIOS ?= redis-sentinel-region-outage redis-sentinel-partition-primary patroni-sync-region-outage \
                patroni-async-region-outage patroni-sync-partition-leader patroni-async-partition-leader \
                patroni-sync-pause-leader
HA_SEEDS     ?= 5
ha-drills: build ha-tools
	@rc=0; for s in $(HA_SCENARIOS); do $(BIN)/harness run --repeat $(HA_SEEDS) --seed 1 scenarios/$$s.yaml || rc=$$?; done; exit $$rc

# Opens a run's report.html in headless Chromium and checks the SLA table and charts are
# there; keeps a screenshot (report.png) beside it. RUN=dir, default the newest run in runs/.
report-check: $(CHROMIUM)
	@run="$${RUN:-$$(ls -td runs/*/ 2>/dev/null | grep -v report-check | head -1)}"; \
	if [ -z "$$run" ]; then echo "report-check: no run in runs/; run make scenario first"; exit 2; fi; \
	dir="$$(cd "$$run" && pwd)" || exit 2; echo "report-check: $$dir"; \
	GEODRILL_REQUIRE_CHROMIUM=1 GEODRILL_REPORT_DIR="$$dir" $(GO) test -count=1 -run '^TestReportInChromium$$' -v ./reports/

$(CHROMIUM):
	./scripts/install-chromium.sh

# The benchmarks, each 3 times, their medians kept as runs/bench/bench.md and bench.json
# (cmd/benchtable): report rendering (BenchmarkWriteHTML100k: a 100k-op run); the
# linearizability check's time and peak heap (BenchmarkCheck: 100k ops over 1k keys, 60k ops
# with 40% unknown writes); the RPO check of 60k ops on one key beside its quadratic
# predecessor (BenchmarkRPOSingleKey*); the load driver beside plain vegeta on one no-op
# target (BenchmarkDriverVsVegeta). Then whole drills on the local provider, once each
# (drill/bench_test.go): scenarios/region-outage.yaml over BENCH_SEEDS seeds (bring-up and
# drill wall time, RTO p50/p95/max and each recovery phase's median, peak memory of the
# harness and of the largest stack process) and scenarios/bench/steady-load.yaml at 500,
# 1000 and 2000 offered ops/s (ok ops/s, ok share, latency p50/p99): the stack's ceiling.
# About 9 minutes on 2 cores.
BENCH_OUT ?= runs/bench
BENCH_SEEDS ?= 3
bench: build
	GO=$(GO) BENCH_OUT=$(BENCH_OUT) GEODRILL_BENCH_SEEDS=$(BENCH_SEEDS) ./scripts/bench.sh

# staticcheck, pinned, fetched from the Go module proxy on first use.
STATICCHECK_VERSION := v0.6.1
lint: vet fmt-check staticcheck

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf runs $(BIN)/harness $(BIN)/refstack

FORCE:
