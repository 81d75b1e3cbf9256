# The verbs people type. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
STATE_DIR ?= .opsbox
TEST_DEPS_DIR ?= target/test-deps
HARNESS := target/debug/opsbox-harness

.PHONY: help deps build test test-rust cluster-tools check-rules check-supply-chain run demo fmt lint bench fuzz-api clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install missing OS packages (Postgres, Redis, promtool, shellcheck, wrk...)
	@scripts/deps.sh all

build: ## Build every crate
	$(CARGO) build --workspace --all-targets

test: ## Install what is missing, start private Postgres + Redis, run every test
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory cluster-tools test-rust check-rules check-supply-chain

cluster-tools: ## Build the cluster tier (etcd, kube-apiserver, kwok, Argo Rollouts...) from Go modules, if Go is here
	@if command -v go >/dev/null 2>&1; then scripts/cluster-build.sh build; \
	else echo "cluster-tools: Go is not on PATH; the cluster tier's tests will be skipped"; fi

# Builds the binaries the tests start (opsbox, api, worker, harness); nextest
# builds the tests themselves. Benches and examples are left to `make bench` and
# clippy, which keeps a clean CI build small.
test-rust:
	$(CARGO) build --workspace --bins
	$(HARNESS) exec --state-dir $(TEST_DEPS_DIR) -- $(CARGO) nextest run --workspace --no-fail-fast

check-rules: ## promtool and amtool checks of the generated rules and alert routing
	@if [[ -x scripts/check-rules.sh ]]; then scripts/check-rules.sh; fi

check-supply-chain: ## Action pins, gitleaks, sops + age, cosign signatures, SBOMs (tools: scripts/deps.sh tools)
	scripts/test-supply-chain.sh

run: ## Private Postgres + Redis + API + worker in the foreground; Ctrl-C stops all
	@scripts/deps.sh runtime
	$(CARGO) build --release -p opsbox-api -p opsbox-worker -p opsbox-harness
	scripts/run-stack.sh

demo: ## The local environment (opsbox up) with background load, shown live; Ctrl-C stops it (KEEP=1 keeps it)
	@scripts/deps.sh runtime
	$(CARGO) build --release -p opsbox -p opsbox-api -p opsbox-worker
	scripts/demo.sh

fmt: ## Format the code
	$(CARGO) fmt --all

lint: ## fmt --check, clippy -D warnings, shellcheck, hadolint, yamllint, actionlint, action pins, cargo deny
	@scripts/deps.sh test
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	shellcheck scripts/*.sh .ci/run
	target/tools/bin/hadolint Dockerfile*
	target/tools/bin/yamllint --strict .
	target/tools/bin/pre-commit validate-config .pre-commit-config.yaml
	target/tools/bin/actionlint
	scripts/check-action-pins.sh
	$(CARGO) deny --all-features check licenses bans sources

bench: ## Benchmarks with wrk and pgbench on loopback; prints the tables
	@scripts/deps.sh bench
	$(CARGO) build --release -p opsbox-api -p opsbox-worker -p opsbox-harness --bins --examples
	scripts/bench.sh

fuzz-api: ## Schema-driven fuzzing of every route (schemathesis from PyPI), bounded
	$(CARGO) build --release -p opsbox-api -p opsbox-worker -p opsbox-harness
	scripts/fuzz-api.sh

clean: ## Remove build output and local state
	$(CARGO) clean
	rm -rf $(STATE_DIR)
