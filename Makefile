# ecr-scan-alerts: the front door. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

.PHONY: help setup build test demo lint clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt
	@command -v python3 >/dev/null || { echo "python3 is required (with pip and venv)"; exit 1; }
	@echo "==> installing pinned local tools (moto, cargo-lambda, boto3, pytest) into $(VENV)"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.installed ## Install the pinned local tools into .venv and check the Rust toolchain
	@command -v cargo >/dev/null || { echo "cargo is required: install the Rust toolchain (rustup)"; exit 1; }
	@echo "setup: $$(cargo --version), $$($(VENV)/bin/cargo-lambda lambda --version), moto $$($(PY) -c 'import moto; print(moto.__version__)')"

build: ## Build the function (debug, with the test targets so `make test` reuses it)
	cargo build --locked --all-targets

test: setup ## Every test: unit, adapters (aws-smithy-mocks), end to end (moto + cargo-lambda)
	./scripts/test.sh

demo: setup build ## Run the pipeline locally on the sample events and print the alerts
	FUNCTION_BINARY=$(TARGET_DIR)/debug/ecr-scan-alerts $(PY) -m harness.demo

lint: ## rustfmt and clippy
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings

clean: ## Remove build output, the virtualenv and local logs
	cargo clean
	rm -rf $(VENV) .local
