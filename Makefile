GO ?= go
PKGS := ./...

.PHONY: all build test test-short bench lint demo testdata fuzz clean generate checkgenerate tools

all: build test

build:
	$(GO) build -o bin/zkshare ./cmd/zkshare

# Keys for every circuit are set up once (about 100 s the first time) and
# shared by the test packages through ZKSHARE_TEST_KEYS.
TESTKEYS = $(CURDIR)/.tmp/testkeys

test:
	$(GO) vet $(PKGS)
	$(GO) run ./cmd/zkshare keys setup --aggregate --keys $(TESTKEYS)
	ZKSHARE_TEST_KEYS=$(TESTKEYS) $(GO) test -count=1 $(PKGS)

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
	$(GO) test -run '^$$' -bench ConsortiumCommit -benchtime 1x ./consortium
	$(GO) test -run '^$$' -bench Aggregate -benchtime 1x ./circuits
	$(GO) test -run '^$$' -bench ProveAggregate -benchtime 1x -timeout 60m ./prover
	$(GO) test -run '^$$' -bench Aggregate -benchtime 3x ./circuits

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet $(PKGS)

demo:
	$(GO) run ./cmd/zkshare demo --dataset testdata/benefits --supplier testdata/coldchain

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

# Code generation: pinned tools in .tmp (CI needs none: generated code is committed).
BUF_VERSION := 1.75.0
TMP := $(CURDIR)/.tmp
BUF := $(TMP)/npm/node_modules/.bin/buf

tools: $(BUF) $(TMP)/bin/protoc-gen-go $(TMP)/bin/protoc-gen-connect-go

$(BUF):
	mkdir -p $(TMP)/npm && cd $(TMP)/npm && npm install --silent --no-audit --no-fund @bufbuild/buf@$(BUF_VERSION)

$(TMP)/bin/protoc-gen-go: go.mod
	GOBIN=$(TMP)/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$$($(GO) list -m -f '{{.Version}}' google.golang.org/protobuf)

$(TMP)/bin/protoc-gen-connect-go: go.mod
	GOBIN=$(TMP)/bin $(GO) install connectrpc.com/connect/cmd/protoc-gen-connect-go@$$($(GO) list -m -f '{{.Version}}' connectrpc.com/connect)

# Fails when the committed generated code is stale.
checkgenerate: generate
	git diff --exit-code -- gen

generate: tools
	$(BUF) lint
	PATH=$(TMP)/bin:$$PATH $(BUF) generate

clean:
	rm -rf bin .tmp
