# ecr-scan-alerts: the front door. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# Deploy and template tools, apart from .venv (SAM CLI and checkov pin boto3
# versions that neither moto nor each other can share).
IAC_VENV := .venv-iac
CHECKOV_VENV := .venv-checkov
SAM := $(IAC_VENV)/bin/sam
# Instruction set of the deployed function: arm64, or x86_64.
ARCH ?= arm64
# sam build runs cargo-lambda (from .venv) in a target directory of its own.
SAM_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" CARGO_TARGET_DIR="$(TARGET_DIR)/sam" SAM_CLI_TELEMETRY=0

.PHONY: help setup build test demo lint clean sam-build deploy deploy-arch delete check-template redrive load bench storm digest dashboard

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt
	@command -v python3 >/dev/null || { echo "python3 is required (with pip and venv)"; exit 1; }
	@echo "==> installing pinned local tools (moto, cargo-lambda, boto3, pytest) into $(VENV)"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(IAC_VENV)/.installed: requirements-iac.txt
	@command -v python3 >/dev/null || { echo "python3 is required (with pip and venv)"; exit 1; }
	@echo "==> installing pinned deploy and lint tools (SAM CLI, cfn-lint, cfn-lint-serverless) into $(IAC_VENV)"
	python3 -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-iac.txt
	@touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@command -v python3 >/dev/null || { echo "python3 is required (with pip and venv)"; exit 1; }
	@echo "==> installing pinned checkov into $(CHECKOV_VENV)"
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

setup: $(VENV)/.installed $(IAC_VENV)/.installed $(CHECKOV_VENV)/.installed ## Install the pinned local tools into .venv and check the Rust toolchain
	@command -v cargo >/dev/null || { echo "cargo is required: install the Rust toolchain (rustup)"; exit 1; }
	@echo "setup: $$(cargo --version), $$($(VENV)/bin/cargo-lambda lambda --version), moto $$($(PY) -c 'import moto; print(moto.__version__)')"

build: ## Build the function (debug, with the test targets so `make test` reuses it)
	cargo build --locked --all-targets

test: setup ## Every test: unit, adapters (aws-smithy-mocks), end to end (moto + cargo-lambda, headless Chromium)
	./scripts/test.sh

# When make started: the demo says how long its first alerts took from here.
DEMO_STARTED := $(shell date +%s)

demo: ## Run the pipeline locally on the sample events and print the alerts
	@command -v cargo >/dev/null || { echo "cargo is required: install the Rust toolchain (rustup)"; exit 1; }
	@echo "==> building the function (debug; only what the demo runs) while the local tools install"
	@mkdir -p .local; cargo build --locked --bin ecr-scan-alerts --bin ecr-scan-digest > .local/demo-build.log 2>&1 & build=$$!; \
	$(MAKE) --no-print-directory $(VENV)/.installed || { kill $$build 2>/dev/null; exit 1; }; \
	wait $$build || { cat .local/demo-build.log; exit 1; }; tail -n 1 .local/demo-build.log
	DEMO_STARTED=$(DEMO_STARTED) FUNCTION_BINARY=$(TARGET_DIR)/debug/ecr-scan-alerts $(PY) -m harness.demo

lint: ## rustfmt and clippy
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings

check-template: setup ## Only the template checks: linters, the rule on local EventBridge, sam build
	$(PY) -m pytest tests/template

dashboard: ## Rebuild the CloudWatch dashboard in template.yaml from metrics.json (tools/dashboard.py)
	python3 tools/dashboard.py

sam-build: setup ## Build the function for Lambda with SAM and cargo-lambda (ARCH=arm64 or x86_64)
	@if [ "$(ARCH)" = arm64 ] && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then \
	  echo "ARCH=arm64 needs the Rust target: rustup target add aarch64-unknown-linux-gnu (or: make $@ ARCH=x86_64)"; exit 1; fi
	$(SAM_ENV) $(SAM) build --parameter-overrides Architecture=$(ARCH)

deploy-arch: # the build must be for the architecture samconfig.toml deploys
	@saved=$$(grep -o 'Architecture=\\"[a-z0-9_]*' samconfig.toml | cut -d'"' -f2 || true); \
	if [ -n "$$saved" ] && [ "$$saved" != "$(ARCH)" ]; then \
	  echo "samconfig.toml deploys Architecture=$$saved but this build would be ARCH=$(ARCH): run make deploy ARCH=$$saved"; exit 1; fi

# The stack and region samconfig.toml deploys to (for tools/keep_policy.py).
STACK_NAME = $(shell sed -n 's/^stack_name = "\(.*\)"/\1/p' samconfig.toml | head -n 1)
STACK_REGION = $(shell sed -n 's/^region = "\(.*\)"/\1/p' samconfig.toml | head -n 1)
KEEP_POLICY = $(IAC_VENV)/bin/python tools/keep_policy.py --stack "$(STACK_NAME)" $(if $(STACK_REGION),--region "$(STACK_REGION)")

deploy: deploy-arch sam-build ## Deploy the stack: guided the first time, then from samconfig.toml
	@if grep -q '^\[default\.deploy\.parameters\]' samconfig.toml; then \
	  echo "==> sam deploy with the settings saved in samconfig.toml"; \
	  $(KEEP_POLICY) save; \
	  status=0; $(SAM_ENV) $(SAM) deploy || status=$$?; \
	  $(KEEP_POLICY) restore; exit $$status; \
	else \
	  echo "==> first deploy: answer the questions (Architecture: $(ARCH)); they are saved in samconfig.toml"; \
	  $(SAM_ENV) $(SAM) deploy --guided --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND; \
	fi

delete: setup ## Delete the stack (the repositories and their images are kept)
	$(SAM_ENV) $(SAM) delete

redrive: $(VENV)/.installed ## Replay a failure queue: QUEUE_URL=... FUNCTION_NAME=... [FINDINGS_QUEUE_URL=...] [DRY_RUN=1]
	@test -n "$(QUEUE_URL)" -a -n "$(FUNCTION_NAME)" || { echo "usage: make redrive QUEUE_URL=<failure queue URL> FUNCTION_NAME=<function> [FINDINGS_QUEUE_URL=<findings queue URL>] [DRY_RUN=1]"; exit 2; }
	$(PY) tools/redrive.py --queue-url "$(QUEUE_URL)" --function-name "$(FUNCTION_NAME)" $(if $(FINDINGS_QUEUE_URL),--findings-queue-url "$(FINDINGS_QUEUE_URL)") $(if $(DRY_RUN),--dry-run)

load: setup build ## A burst of EVENTS (default 1000) against the local stack: every alert once, memory flat
	$(PY) -m harness.load --events $(or $(EVENTS),1000)

storm: setup ## A CVE storm at scale: 5,000 finding events for one CVE + 500 others, 4 consumers, counts checked
	cargo build --release --locked --bin ecr-scan-alerts
	$(PY) -m harness.storm --binary $(TARGET_DIR)/release/ecr-scan-alerts

digest: setup ## The digest at scale: 20,000 images in 2,000 repositories, 20 owners; AWS calls, CPU and RSS against the goals
	cargo build --release --locked --bin ecr-scan-alerts --bin ecr-scan-digest
	$(PY) -m harness.digest_scale --binary $(TARGET_DIR)/release/ecr-scan-alerts

bench: setup ## Figures with targets, as one table: binary size, cold start, first vs warm call, large scans, Criterion
	@mkdir -p .local/bench
	@echo "==> Criterion benchmarks (benches/pipeline.rs; output in .local/bench/criterion.log)"
	@cargo bench --locked --bench pipeline > .local/bench/criterion.log 2>&1 || { tail -40 .local/bench/criterion.log; exit 1; }
	@# After the benchmarks: `cargo bench` rebuilds the binary into the same
	@# directory with the bench profile (panics unwind), which is not what ships.
	cargo build --release --locked --bin ecr-scan-alerts --bin ecr-scan-digest
	@echo "==> end to end: release binary, cargo-lambda emulator, moto behind the paging proxy over TLS"
	$(PY) -m harness.bench --binary $(TARGET_DIR)/release/ecr-scan-alerts --criterion $(TARGET_DIR)/criterion

clean: ## Remove build output, the virtualenvs and local logs
	cargo clean
	rm -rf $(VENV) $(IAC_VENV) $(CHECKOV_VENV) .local .aws-sam
