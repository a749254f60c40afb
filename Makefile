# appkernel's front door. Plain `go` does the work on these machines; Bazel
# is an alternative build (make bazel-test) where it is installed.

SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export CGO_ENABLED := 0

GO ?= go
BIN := bin
GAZELLE := $(GO) run github.com/bazelbuild/bazel-gazelle/cmd/gazelle@v0.40.0
# The demo that `make run` sandboxes; override with RUN_CMD='...'.
RUN_CMD ?= /bin/sh -c 'echo "hello from the sandbox"; uname -a; ls /'
RUNSC_FLAGS ?=
TARGETS ?= runsc
DESTINATION ?= $(BIN)

.DEFAULT_GOAL := help

##@ Main

help: ## List the targets.
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## Install what builds and tests need (Debian packages, Go toolchain, Go modules).
	@tools/install-deps.sh
	@$(GO) mod download

run: deps runsc ## Build runsc and run a demo command in the sandbox (RUN_CMD=...).
	$(BIN)/runsc $(RUNSC_FLAGS) do $(RUN_CMD)

test: unit-tests tests ## Run every test suite.

##@ Build

runsc: ## Build a static bin/runsc.
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/runsc ./runsc

shim: ## Build bin/containerd-shim-runsc-v1, containerd's shim for runsc (its own Go module: shim/).
	@mkdir -p $(BIN)
	cd shim && $(GO) build -trimpath -o $(CURDIR)/$(BIN)/containerd-shim-runsc-v1 .

copy: $(TARGETS) ## Copy built TARGETS to DESTINATION (e.g. sudo make copy TARGETS=runsc DESTINATION=/usr/local/bin).
	@mkdir -p $(DESTINATION)
	@for t in $(TARGETS); do \
		if [ "$$(realpath $(BIN)/$$t)" != "$$(realpath -m $(DESTINATION)/$$t)" ]; then cp -f $(BIN)/$$t $(DESTINATION)/$$t; fi; \
		echo "$(DESTINATION)/$$t"; done

generate: ## Regenerate generated code and docs.
	$(GO) generate ./...

verify-generated: ## Fail when generated files are stale.
	@tools/verify-generated.sh

gazelle: ## Rewrite BUILD.bazel files and Go repository rules.
	$(GAZELLE) update-repos -from_file=go.mod -to_macro=deps.bzl%go_dependencies -prune
	$(GAZELLE) -go_prefix appkernel.dev/appkernel

verify-gazelle: ## Fail when BUILD.bazel files are not what gazelle writes.
	@tools/verify-gazelle.sh

vet: ## go vet for amd64 and arm64.
	$(GO) vet ./...
	GOARCH=arm64 $(GO) vet ./...
	cd shim && $(GO) vet . && GOARCH=arm64 $(GO) vet .

cross: ## Build everything for arm64, and run the unit tests for arm64 under qemu-user.
	GOARCH=arm64 $(GO) build ./...
	cd shim && GOARCH=arm64 $(GO) build -o /dev/null .
	GOARCH=arm64 $(GO) test -exec qemu-aarch64-static ./pkg/abi/... ./pkg/state/... ./pkg/sentry/... ./tools/...

bazel-test: ## bazel test //... where Bazel >= 6 is installed.
	@tools/bazel-test.sh

##@ Tests

unit-tests: deps ## Go unit tests (no root needed).
	$(GO) test ./pkg/... ./runsc/... ./tools/... ./test/benchmarks/...

tests: deps runsc shim ## Syscall and end-to-end suites (need root; skipped with a message without it).
	@if [ "$$(id -u)" -ne 0 ]; then echo "tests: skipped: the syscall and e2e suites need root (run: sudo make tests)"; exit 0; fi; \
	RUNSC=$(CURDIR)/$(BIN)/runsc $(GO) test -count=1 ./test/syscalls/... ./test/e2e/...

benchmarks: deps runsc ## Sandbox/native ratios for the workloads in test/benchmarks.
	RUNSC=$(CURDIR)/$(BIN)/runsc $(GO) run ./test/benchmarks

clean: ## Remove build outputs.
	rm -rf $(BIN)

.PHONY: help deps run test runsc shim copy generate verify-generated gazelle verify-gazelle vet cross bazel-test unit-tests tests benchmarks clean
