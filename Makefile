GO ?= go
PKGS := ./...

# Pinned tools, installed into .tmp on first use (`make tools`).
TMP := $(CURDIR)/.tmp
BUF_VERSION := 1.75.0
BUF := $(TMP)/npm/node_modules/.bin/buf
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(TMP)/bin/golangci-lint
GOVULNCHECK_VERSION := v1.9.0
GOVULNCHECK := $(TMP)/bin/govulncheck
# The vulnerability database cannot be fetched from vuln.go.dev here: it is
# built from the reports in the golang.org/x/vulndb module (served by the
# module proxy) with its cmd/indexdb. Bump the version to refresh it.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB := $(TMP)/vulndb/.version-$(VULNDB_VERSION)

.PHONY: all build browser demo-console test test-short bench lint lint-all lint-go golangci-lint vulncheck vulncheck-text buf-lint demo testdata fuzz clean generate checkgenerate gentools tools

all: build test

build:
	$(GO) build -o bin/zkshare ./cmd/zkshare

# Keys for every circuit are set up once (about 4 min the first time) and
# shared by the test packages through ZKSHARE_TEST_KEYS.
TESTKEYS = $(CURDIR)/.tmp/testkeys

test: browser
	$(GO) vet $(PKGS)
	$(GO) run ./cmd/zkshare keys setup --aggregate --keys $(TESTKEYS)
	ZKSHARE_TEST_KEYS=$(TESTKEYS) $(GO) test -count=1 -timeout 20m $(PKGS)

# The console's browser tests (console/browser_test.go) drive Debian's
# headless Chromium, so `make test` first makes sure it is there: `make
# browser` installs it with apt (as root, or through sudo when that needs
# no password) when $(CHROMIUM) is missing, and does nothing when it is
# there or ZKSHARE_CHROMIUM names another browser. fonts-liberation is a
# recommended package of chromium that --no-install-recommends drops; the
# screenshots need its fonts. Where it cannot install (no apt-get, no root),
# it says so: the browser tests then skip, or, with CI set (.ci/run sets
# it), the target fails.
CHROMIUM := /usr/bin/chromium

browser:
	@if [ -x $(CHROMIUM) ] || [ -n "$$ZKSHARE_CHROMIUM" ]; then exit 0; fi; \
	sudo=; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi; \
	if ! command -v apt-get >/dev/null || { [ -n "$$sudo" ] && ! sudo -n true 2>/dev/null; }; then \
		echo "browser: $(CHROMIUM) is missing and cannot be installed here (apt-get install chromium, as root)"; \
		if [ -n "$$CI" ]; then exit 1; fi; \
		echo "browser: the browser tests will be skipped"; exit 0; \
	fi; \
	echo "browser: installing Chromium"; \
	$$sudo apt-get update && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-liberation

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Benchmarks: figures are for this machine; compare ratios from one run.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./tree ./holder
	$(GO) test -run '^$$' -bench Append -benchtime 20000x ./ledger
	$(GO) test -run '^$$' -bench 'InclusionProof|VerifyChain' -benchtime 2s ./ledger
	$(GO) test -run '^$$' -bench BlockWithLargeState -benchtime 3x ./ledger
	$(GO) test -run '^$$' -bench . -benchtime 20x ./bench
	$(GO) test -run '^$$' -bench . -benchtime 40x ./service
	$(GO) test -run '^$$' -bench 'ProveDuringCommit|RestartAfterCrash' -benchtime 1x -timeout 60m ./node
	$(GO) test -run '^$$' -bench ConsortiumCommit -benchtime 1x ./consortium
	$(GO) test -run '^$$' -bench 'AttestReadings|SealReading' -benchtime 3x ./ledger
	$(GO) test -run '^$$' -bench Verify -benchtime 500x ./device
	$(GO) test -run '^$$' -bench ConsortiumReadings -benchtime 1x ./consortium
	$(GO) test -run '^$$' -bench Aggregate -benchtime 1x ./circuits
	$(GO) test -run '^$$' -bench ProveAggregate -benchtime 1x -timeout 60m ./prover
	$(GO) test -run '^$$' -bench 'Phase1|Phase2' -benchtime 3x -timeout 30m ./ceremony
	$(GO) test -run '^$$' -bench Aggregate -benchtime 3x ./circuits
	$(GO) test -v -run '^$$' -bench ConsolePages -benchtime 20x -timeout 30m ./console

# Quality gates (issue 12): gofmt, go vet, golangci-lint (.golangci.yml),
# govulncheck against a local vulnerability database, buf lint, buf format
# and checkgenerate. The tools are pinned and installed into .tmp on first
# use; .ci/run runs `make lint`.
#
# `make lint` gates golangci-lint on every package and govulncheck on the
# modules we call; `make lint-all` gates the standard library too (CI's Go
# 1.26.8 has fixed standard-library vulnerabilities: once it is 1.26.10 or
# later, set VULNGATE := -stdlib and the two are the same).
LINT_PKGS := ./...

lint: lint-go golangci-lint vulncheck buf-lint checkgenerate

lint-all: LINT_PKGS := ./...
lint-all: VULNGATE := -stdlib
lint-all: lint

lint-go:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet $(PKGS)

golangci-lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run $(LINT_PKGS)

# govulncheck reports the vulnerabilities in code we call (-show verbose for
# the traces: make vulncheck-text). internal/vulngate fails on those in
# modules (fix: upgrade the module); those in the standard library need a
# newer Go on the CI machine and fail only under lint-all (VULNGATE=-stdlib).
VULNGATE :=
vulncheck: $(GOVULNCHECK) $(VULNDB)
	$(GOVULNCHECK) -db file://$(TMP)/vulndb -format json $(PKGS) > $(TMP)/govulncheck.json
	$(GO) run ./internal/vulngate $(VULNGATE) < $(TMP)/govulncheck.json

vulncheck-text: $(GOVULNCHECK) $(VULNDB)
	$(GOVULNCHECK) -db file://$(TMP)/vulndb $(PKGS)

buf-lint: $(BUF)
	$(BUF) lint
	$(BUF) format -d --exit-code

demo:
	$(GO) run ./cmd/zkshare demo --dataset testdata/benefits --supplier testdata/coldchain

# The demo, then its node keeps serving the web console until Ctrl-C.
demo-console:
	$(GO) run ./cmd/zkshare demo --dataset testdata/benefits --supplier testdata/coldchain --console

# Regenerates testdata/benefits and testdata/coldchain deterministically.
testdata:
	$(GO) run ./internal/gendata -out testdata/benefits
	$(GO) run ./internal/gencoldchain -out testdata/coldchain

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./query
	$(GO) test -run '^$$' -fuzz FuzzUnmarshalQuery -fuzztime 30s ./query
	$(GO) test -run '^$$' -fuzz FuzzReadCSV -fuzztime 30s ./records
	$(GO) test -run '^$$' -fuzz FuzzReadJSONL -fuzztime 30s ./records
	$(GO) test -run '^$$' -fuzz FuzzVerifyBytes -fuzztime 30s ./verifier
	$(GO) test -short -run '^$$' -fuzz FuzzProofEncoding -fuzztime 30s ./verifier
	$(GO) test -run '^$$' -fuzz FuzzLeafAgreement -fuzztime 30s ./circuits
	$(GO) test -run '^$$' -fuzz FuzzDecodeEntry -fuzztime 30s ./holder
	$(GO) test -run '^$$' -fuzz FuzzDecodeTx -fuzztime 30s ./ledger
	$(GO) test -run '^$$' -fuzz FuzzApply -fuzztime 30s ./ledger
	$(GO) test -run '^$$' -fuzz FuzzFromProto -fuzztime 30s ./bundle
	$(GO) test -run '^$$' -fuzz FuzzParsePublicKey -fuzztime 30s ./device
	$(GO) test -run '^$$' -fuzz FuzzDecodeNode -fuzztime 30s ./tree
	$(GO) test -run '^$$' -fuzz FuzzWitness -fuzztime 30s ./receipt
	$(GO) test -run '^$$' -fuzz FuzzParseVerifying -fuzztime 30s ./keys
	$(GO) test -run '^$$' -fuzz FuzzDecodePhase1 -fuzztime 30s ./ceremony
	$(GO) test -run '^$$' -fuzz FuzzDecodePhase2 -fuzztime 30s ./ceremony


# Code generation: pinned tools in .tmp (generated code is committed).
gentools: $(BUF) $(TMP)/bin/protoc-gen-go $(TMP)/bin/protoc-gen-connect-go

tools: gentools $(GOLANGCI_LINT) $(GOVULNCHECK)

$(BUF):
	mkdir -p $(TMP)/npm && cd $(TMP)/npm && npm install --silent --no-audit --no-fund @bufbuild/buf@$(BUF_VERSION)

$(TMP)/bin/protoc-gen-go: go.mod
	GOBIN=$(TMP)/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$$($(GO) list -m -f '{{.Version}}' google.golang.org/protobuf)

$(TMP)/bin/protoc-gen-connect-go: go.mod
	GOBIN=$(TMP)/bin $(GO) install connectrpc.com/connect/cmd/protoc-gen-connect-go@$$($(GO) list -m -f '{{.Version}}' connectrpc.com/connect)

# The version is part of a stamp file so that bumping it reinstalls.
$(GOLANGCI_LINT): $(TMP)/stamp/golangci-lint-$(GOLANGCI_LINT_VERSION)
$(TMP)/stamp/golangci-lint-$(GOLANGCI_LINT_VERSION):
	GOBIN=$(TMP)/bin $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mkdir -p $(@D) && touch $@

$(GOVULNCHECK): $(TMP)/stamp/govulncheck-$(GOVULNCHECK_VERSION)
$(TMP)/stamp/govulncheck-$(GOVULNCHECK_VERSION):
	GOBIN=$(TMP)/bin $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	mkdir -p $(@D) && touch $@

# Built once into .tmp/vulndb (several minutes on a fresh machine: indexdb
# pulls in the vulndb module's dependencies); a new VULNDB_VERSION rebuilds it.
$(VULNDB):
	rm -rf $(TMP)/vulndb $(TMP)/vulndb.new
	dir=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p') && \
		test -d "$$dir/data/osv" && \
		$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$dir/data/osv" -out $(TMP)/vulndb.new
	mv $(TMP)/vulndb.new $(TMP)/vulndb
	touch $@

# Fails when the committed generated code is stale: regenerates gen/ from
# scratch, then any changed, new or deleted file under gen/ fails.
checkgenerate: gentools
	find gen -name '*.pb.go' -o -name '*.connect.go' | xargs rm -f
	$(MAKE) generate
	@test -z "$$(git status --porcelain --untracked-files=all -- gen)" || \
		(echo "checkgenerate: gen/ differs from the protos; run make generate and commit:"; \
		git status --porcelain --untracked-files=all -- gen; exit 1)

generate: gentools
	$(BUF) lint
	PATH=$(TMP)/bin:$$PATH $(BUF) generate

clean:
	rm -rf bin .tmp
