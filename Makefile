# enclave — build, demo, test and benchmark.
#
#   make run    install what is missing (Debian 12), build, install the kernelspec,
#               make the synthetic demo workspaces and start Jupyter Notebook
#   make test   everything CI runs: vet, gofmt, Go tests, end-to-end tests through
#               real Jupyter clients, the adversarial sandbox suite
#   make bench  speed and memory benchmarks (JSON lines), against ipykernel and plink
#   make fuzz   each fuzz target for FUZZTIME (their seed corpora run in make test)
#   make demo   run the example notebooks headless into HTML under build/demo

SHELL   := /bin/bash
GO      ?= go
PY      := /usr/bin/python3
JUPYTER := /usr/bin/jupyter
BIN     := $(CURDIR)/bin
DEMO    ?= $(CURDIR)/demo
PORT    ?= 8888

# Debian packages the build, the tests and the benchmarks use.
APT_PACKAGES := build-essential jupyter-client python3-jupyter-client python3-ipykernel \
	python3-jupyter-kernel-test jupyter-console python3-nbconvert python3-nbclient \
	python3-notebook python3-pytest python3-yaml python3-pexpect plink1.9 plink2 \
	bcftools tabix time chromium chromium-driver python3-selenium

export ENCLAVE        := $(BIN)/enclave
export ENCLAVE_WORKER := $(BIN)/enclave-worker

.PHONY: all deps build install-kernel demo-data run demo test test-go test-e2e test-bigquery bench fuzz vet clean

all: build

# deps installs the Debian packages that are missing. It needs root (or sudo).
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is required (https://go.dev/dl)"; exit 1; }

# The trusted binary is built with Go 1.26's simd experiment: the genomics
# association passes use AVX2/AVX-512 where the CPU has them (scalar code
# otherwise, same results to printed digits).
build:
	GOEXPERIMENT=simd $(GO) build -o $(BIN)/enclave ./cmd/enclave
	CGO_ENABLED=0 $(GO) build -o $(BIN)/enclave-worker ./cmd/enclave-worker

# The demo kernelspec opens the registered demo workspace as researcher "demo",
# whose record lives in the demo's own registry ($(DEMO)/home).
install-kernel: build
	$(BIN)/enclave install --user --workspace $(DEMO)/registered --researcher demo \
		--env ENCLAVE_HOME=$(DEMO)/home

demo-data: build
	DEMO=$(DEMO) ENCLAVE=$(BIN)/enclave SYNTH_FLAGS="--variants 20000 --genotyped 5000" \
		bash scripts/demo-workspace.sh

run: deps build demo-data install-kernel
	$(JUPYTER) notebook --no-browser --ip=127.0.0.1 --port=$(PORT) \
		$$( [ $$(id -u) -eq 0 ] && echo --allow-root ) --notebook-dir=$(CURDIR)/examples

# demo runs the examples headless with a kernelspec private to build/, so it
# works without install-kernel and leaves the user's Jupyter untouched.
demo: deps build demo-data
	mkdir -p build/demo
	$(BIN)/enclave install --prefix $(CURDIR)/build/jupyter --workspace $(DEMO)/registered \
		--researcher demo --env ENCLAVE_HOME=$(DEMO)/home >/dev/null
	JUPYTER_PATH=$(CURDIR)/build/jupyter/share/jupyter \
		$(PY) -m nbconvert --to html --execute --ExecutePreprocessor.kernel_name=enclave \
		--output-dir build/demo examples/*.ipynb
	@echo "demo: HTML in build/demo"

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }

test-go:
	$(GO) test -count=1 ./...
	GOEXPERIMENT=simd $(GO) test -count=1 ./datasets/genomics/assoc/... ./datasets/genomics/pca/...

test-e2e: build
	$(PY) -m pytest -q -p no:cacheprovider tests

test: deps vet build test-go test-e2e

# test-bigquery runs the BigQuery catalog against github.com/goccy/bigquery-emulator
# v0.8.1 (pure Go; about 4 minutes and 270 MB to build, so it is built once into
# $(BQ_CACHE), keyed by version, from its own module in tools/bigquery-emulator
# so none of its dependencies reach the kernel's go.mod).
BQ_EMULATOR_VERSION := v0.8.1
BQ_CACHE            ?= $(HOME)/.cache/enclave
BQ_EMULATOR         := $(BQ_CACHE)/bigquery-emulator-$(BQ_EMULATOR_VERSION)
BQ_PERSONS          ?= 300

$(BQ_EMULATOR): | tools/bigquery-emulator/go.mod
	mkdir -p $(BQ_CACHE)
	cd tools/bigquery-emulator && CGO_ENABLED=0 $(GO) build -o $@.tmp github.com/goccy/bigquery-emulator/cmd/bigquery-emulator
	mv $@.tmp $@

# The Go suite holds the catalog and the analysis API to DuckDB's answers;
# the catalog's conformance suite runs again on the 20,000-person cohort
# (the emulator joins in time proportional to both tables' rows, so there
# the cases that join an events table with person are left out);
# tests/bigquery runs the API's cells through the real kernel on a
# BigQuery workspace and on its DuckDB twin.
BQ_PERSONS_LARGE    ?= 20000
test-bigquery: $(BQ_EMULATOR) build
	ENCLAVE_BIGQUERY_EMULATOR=$(BQ_EMULATOR) ENCLAVE_BIGQUERY_REQUIRED=1 ENCLAVE_BIGQUERY_PERSONS=$(BQ_PERSONS) \
		$(GO) test -count=1 -timeout 30m ./datasets/bigquery/...
	ENCLAVE_BIGQUERY_EMULATOR=$(BQ_EMULATOR) ENCLAVE_BIGQUERY_REQUIRED=1 ENCLAVE_BIGQUERY_PERSONS=$(BQ_PERSONS_LARGE) \
		$(GO) test -count=1 -timeout 30m -run '^TestConformance$$' ./datasets/bigquery/
	ENCLAVE_BIGQUERY_EMULATOR=$(BQ_EMULATOR) ENCLAVE_BIGQUERY_REQUIRED=1 ENCLAVE_BIGQUERY_PERSONS=$(BQ_PERSONS) \
		$(PY) -m pytest -q -p no:cacheprovider tests/bigquery

# The parsers that read bytes from outside the trust boundary or from users:
# package:target pairs, each fuzzed in turn (go test runs one -fuzz at a time).
FUZZTIME ?= 60s
FUZZ_TARGETS := ./kernel/wire:FuzzDecode ./kernel/wire/zmqsock:FuzzZMTPScan \
	./rpc:FuzzRecv ./datasets/genomics/vcf:FuzzRecord ./sandbox/cells:FuzzCell \
	./analysis/sqlagg:FuzzRewrite

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "# fuzz $${t#*:} in $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}" || exit 1; \
	done

bench: deps build
	@for f in bench/*.sh; do echo "# $$f"; bash $$f || exit 1; done

clean:
	rm -rf bin build
