#!/usr/bin/env bash
# Runs every test layer once, sharing one cargo build, and prints how long
# each step took. Called by `make test` (after `make setup`).
set -uo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
log_dir=.local/test-logs
rm -rf "$log_dir"; mkdir -p "$log_dir"
steps=()
failed=0

step() {
  local name=$1; shift
  local log="$log_dir/$(echo "$name" | tr -c 'a-z0-9' '-').log"
  echo "==> $name"
  local start=$SECONDS
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local took=$((SECONDS - start))
  steps+=("$(printf '%-44s %5ss  %s' "$name" "$took" "$([ "$rc" = 0 ] && echo ok || echo FAILED)")")
  [ "$rc" = 0 ] || failed=1
  return "$rc"
}

# Layers 1 and 2: pure functions and the AWS adapters under aws-smithy-mocks.
# This also builds the function binary the end-to-end step runs.
step "unit and adapter tests (cargo test)" cargo test --locked --all-targets
# The browser test's headless Chromium (Debian's package), installed once.
if [ "$failed" = 0 ]; then
  step "headless Chromium (scripts/install-chromium.sh)" ./scripts/install-chromium.sh
fi
# Layer 3: the built function, end to end, over real HTTP on 127.0.0.1; the
# posture report's page in headless Chromium.
if [ "$failed" = 0 ]; then
  step "end-to-end tests (pytest, local stack)" \
    env FUNCTION_BINARY="$target_dir/debug/ecr-scan-alerts" .venv/bin/python -m pytest
fi
# The deployable stack: linters on template.yaml, the rule's pattern on a local
# EventBridge (moto), and sam build (release, x86_64) through cargo-lambda.
if [ "$failed" = 0 ]; then
  step "template checks (pytest tests/template)" .venv/bin/python -m pytest tests/template
fi

echo
echo "== test steps =="
printf '%s\n' "${steps[@]}"
# One closing line over both runners: cargo's "test result:" lines and
# pytest's summary line.
count() {
  cat "$log_dir"/*.log \
    | grep -E '^test result: |^=*.* in [0-9.]+s( \([0-9:]+\))? *=*$' \
    | grep -oE "[0-9]+ $1" | awk '{s += $1} END {print s + 0}'
}
passed=$(count passed)
nfailed=$(count failed)
echo "$passed passed, $nfailed failed"
exit "$failed"
