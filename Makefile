GO ?= go
PKGS := ./...

.PHONY: all build test test-short bench lint demo testdata fuzz clean

all: build test

build:
	$(GO) build -o bin/zkshare ./cmd/zkshare

test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# Benchmarks: figures are for this machine; compare ratios from one run.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./tree ./holder
	$(GO) test -run '^$$' -bench . -benchtime 20x ./bench

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet $(PKGS)

demo:
	$(GO) run ./cmd/zkshare demo --dataset testdata/benefits

# Regenerates testdata/benefits deterministically.
testdata:
	$(GO) run ./internal/gendata -out testdata/benefits

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./query
	$(GO) test -run '^$$' -fuzz FuzzUnmarshalQuery -fuzztime 30s ./query
	$(GO) test -run '^$$' -fuzz FuzzReadCSV -fuzztime 30s ./records
	$(GO) test -run '^$$' -fuzz FuzzReadJSONL -fuzztime 30s ./records
	$(GO) test -run '^$$' -fuzz FuzzVerifyBytes -fuzztime 30s ./verifier
	$(GO) test -run '^$$' -fuzz FuzzLeafAgreement -fuzztime 30s ./circuits
	$(GO) test -run '^$$' -fuzz FuzzDecodeEntry -fuzztime 30s ./holder

clean:
	rm -rf bin .tmp
