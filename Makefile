# Farmwatch build. Everything is pure Go (CGO_ENABLED=0); tools are pinned here and installed
# into .tools/bin by `make tools` (protoc itself comes from Debian's protobuf-compiler).
SHELL := /bin/bash
export CGO_ENABLED := 0
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# grpcnotrace drops gRPC's request tracing (never enabled here) and, with it, x/net/trace and
# html/template: a smaller executable and ~3 MiB less of it resident in the agent.
TAGS := grpcnotrace
TOOLS := $(CURDIR)/.tools/bin
STATICCHECK_VERSION := v0.8.2
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
PROTOC_VERSION := 3.21.12
NFPM_VERSION := v2.45.2
GOVULNCHECK_VERSION := v1.8.0
VULNDB := $(CURDIR)/.tools/vulndb
PLATFORMS := linux/amd64 linux/arm64 windows/amd64 windows/arm64 darwin/amd64 darwin/arm64
RUN_DIR ?= $(CURDIR)/run

.PHONY: all build run test test-short proto proto-check cross lint vet tools clean geodata screenshots packages fuzz-short vulncheck test-faults loadgen-short bench-check

all: build

build:
	$(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/farmwatch-agent ./agent/cmd/farmwatch-agent
	$(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/farmwatch-server ./server/cmd/farmwatch-server

# Offline IP geolocation: pinned npm packages of @ip-location-db (country: CC0 over NRO data,
# CC BY 4.0; ASN: DB-IP and RouteViews, CC BY 4.0), checked against pinned SHA-512 sums and
# converted into var/geoip. Downloads once into the user cache; later runs are offline.
GEODATA := var/geoip/country.mmdb var/geoip/asn.mmdb
geodata: $(GEODATA)
$(GEODATA) &: $(wildcard server/geoip/build/*.go)
	$(GO) run ./server/geoip/build -out var/geoip

# Screenshots of the console's main pages (docs/screenshots), on the labelled scenario suite,
# rendered by Debian's Chromium.
screenshots:
	$(GO) run ./server/cmd/farmwatch-screenshots -out docs/screenshots

GRPC_ADDR ?= 127.0.0.1:7443
HTTP_ADDR ?= 127.0.0.1:7080

# Collector on its embedded store, an agent on this machine enrolled to it, console address
# printed. State lives in $(RUN_DIR); Ctrl-C stops both. Running it again reuses the state.
run: build geodata
	@set -euo pipefail; d='$(RUN_DIR)'; g='$(GRPC_ADDR)'; mkdir -p "$$d"; chmod 700 "$$d"; \
	trap 'kill $$(jobs -p) 2>/dev/null; wait 2>/dev/null; echo; echo "stopped (state kept in $$d)"' EXIT INT TERM; \
	bin/farmwatch-server serve --data "$$d/server" --grpc-listen $(GRPC_ADDR) --http-listen $(HTTP_ADDR) >>"$$d/server.log" 2>&1 & \
	for i in $$(seq 100); do [ -f "$$d/server/farmwatch.db" ] && bash -c "echo > /dev/tcp/$${g%:*}/$${g##*:}" 2>/dev/null && break; sleep 0.1; done; \
	kill -0 $$! 2>/dev/null || { echo "collector did not start:"; tail -20 "$$d/server.log"; exit 1; }; \
	if [ ! -f "$$d/admin-password" ]; then \
		bin/farmwatch-server user add --data "$$d/server" --username admin --role admin | sed -n 's/^password: //p' > "$$d/admin-password"; \
		chmod 600 "$$d/admin-password"; fi; \
	if [ ! -f "$$d/agent/agent.json" ]; then \
		secret=$$(bin/farmwatch-server enroll-secret create --data "$$d/server" --name make-run | tail -n 1); \
		bin/farmwatch-agent enroll --state "$$d/agent" --server $(GRPC_ADDR) --ca "$$d/server/ca.pem" --secret "$$secret"; fi; \
	bin/farmwatch-agent run --state "$$d/agent" --interval 60s >>"$$d/agent.log" 2>&1 & \
	echo; echo "Farmwatch is running."; \
	echo "  console   http://$(HTTP_ADDR)/   user: admin   password: $$(cat "$$d/admin-password")"; \
	echo "  collector $(GRPC_ADDR) (gRPC, mutual TLS)   logs: $$d/server.log, $$d/agent.log"; \
	echo "Press Ctrl-C to stop."; wait

test: build geodata
	$(GO) test -count=1 -timeout 20m ./...
	./.ci/cli-check

# Kill -9, outage and disk-full tests against real collector and agent processes on loopback;
# prints reports sent, acknowledged, stored, lost and duplicated (disk-full needs root).
test-faults: build
	$(GO) run ./server/cmd/farmwatch-faults -server-bin bin/farmwatch-server -agent-bin bin/farmwatch-agent

# Load generator against a fresh collector (bin/farmwatch-server): 2000 simulated agents over
# mutual TLS, closed loop of 64 with heartbeats, 10 s warm-up + 60 s measured, under 2 minutes
# in all. Prints throughput, latency percentiles, errors, the collector's peak RSS and CPU;
# the last line is "N reports/s".
loadgen-short: build
	$(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/farmwatch-loadgen ./server/cmd/farmwatch-loadgen
	bin/farmwatch-loadgen -short-run -server-bin bin/farmwatch-server

# Performance regression gate: the benchmarks of .ci/bench-thresholds against their limits.
bench-check:
	./.ci/bench-check

# Every fuzz target for a short budget each (FUZZTIME, default 3s); crashers become testdata.
fuzz-short:
	./.ci/fuzz

test-short:
	$(GO) test -short ./...

tools: $(TOOLS)/staticcheck $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc $(TOOLS)/nfpm $(TOOLS)/govulncheck

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(TOOLS)/nfpm:
	GOBIN=$(TOOLS) $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
$(TOOLS)/govulncheck:
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

# Known vulnerabilities in the code paths we call, for every OS. vuln.go.dev is not reachable
# from the build machines: the database is a pinned golang.org/x/vulndb snapshot from the
# module proxy (its date is in .ci/vulndb/gen.go), checksum-checked and laid out in
# govulncheck's v1 format. Exit status 3: a vulnerable function is called.
$(VULNDB)/index/db.json: .ci/vulndb/gen.go
	$(GO) run .ci/vulndb/gen.go -out $(VULNDB)
vulncheck: $(TOOLS)/govulncheck $(VULNDB)/index/db.json
	@set -e; for os in linux windows darwin; do echo "govulncheck GOOS=$$os"; GOOS=$$os $(TOOLS)/govulncheck -db file://$(VULNDB) ./...; done

# Agent installers (deb, rpm, msi, pkg) from the cross builds into dist/packages. Reproducible:
# SOURCE_DATE_EPOCH, else the commit time. FARMWATCH_SIGN_CERT/KEY: Authenticode-sign exe and msi.
# Package versions must sort: the newest vX.Y.Z tag, else 0.0.0 with the commit count and hash.
PKG_VERSION ?= $(shell git describe --tags --match 'v[0-9]*' 2>/dev/null || echo "0.0.0-$$(git rev-list --count HEAD 2>/dev/null || echo 0)-g$$(git rev-parse --short HEAD 2>/dev/null || echo 0)")
packages: cross $(TOOLS)/nfpm
	$(GO) run ./installers/build -version $(PKG_VERSION) -dist dist -out dist/packages -nfpm $(TOOLS)/nfpm

proto: $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc
	@protoc --version | grep -q '$(PROTOC_VERSION)' || { echo "protoc $(PROTOC_VERSION) required (apt-get install protobuf-compiler), found: $$(protoc --version)"; exit 1; }
	PATH=$(TOOLS):$$PATH protoc -I proto \
		--go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		proto/farmwatch/v1/*.proto

# Fails when the committed generated code differs from what `make proto` produces.
proto-check: proto
	@git diff --exit-code -- proto || { echo "generated protobuf code is stale: run make proto and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- proto)" || { echo "make proto produced untracked files:"; git status --porcelain -- proto; exit 1; }

cross:
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		for b in agent server; do \
			echo "build $$os/$$arch farmwatch-$$b"; \
			GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o dist/$$os-$$arch/farmwatch-$$b$$ext ./$$b/cmd/farmwatch-$$b; \
		done; \
	done

# vet type-checks every OS's files; arm64 differs from amd64 only in files `make cross` compiles.
vet:
	@set -e; for p in linux/amd64 windows/amd64 darwin/amd64; do echo "vet $$p"; GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./...; done

lint: $(TOOLS)/staticcheck vet
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	@set -e; for os in linux windows darwin; do echo "staticcheck $$os"; GOOS=$$os $(TOOLS)/staticcheck ./...; done

clean:
	rm -rf bin dist

# The remote-tool catalog (catalog/data/catalog.json and docs/catalog.md) is generated from the
# vendored LOLRMM snapshot and the curated overrides in catalog/.
.PHONY: catalog catalog-check
catalog:
	$(GO) run ./catalog/build

# Fails when the committed catalog differs from what `make catalog` produces.
catalog-check: catalog
	@git diff --exit-code -- catalog/data docs/catalog.md || { echo "generated catalog is stale: run make catalog and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- catalog/data docs/catalog.md)" || { echo "make catalog produced uncommitted files:"; git status --porcelain -- catalog/data docs/catalog.md; exit 1; }
