#!/usr/bin/env bash
# Headless Chromium for the browser test (tests/e2e/test_report_browser.py):
# Debian's package `chromium`, installed once when no `chromium` is on the
# PATH (CHROMIUM may name another binary). Called by scripts/test.sh.
set -euo pipefail

if [ -n "${CHROMIUM:-}" ]; then
  [ -x "$CHROMIUM" ] || { echo "CHROMIUM=$CHROMIUM is not an executable file"; exit 1; }
  echo "chromium: $CHROMIUM (from CHROMIUM)"
  exit 0
fi
if command -v chromium >/dev/null; then
  echo "chromium: $(command -v chromium) is installed"
  exit 0
fi

packages=(chromium fonts-dejavu-core)
if ! command -v apt-get >/dev/null; then
  echo "chromium is missing and this is no Debian system (no apt-get): install Chromium, then"
  echo "put it on the PATH as \`chromium\` or name it in CHROMIUM=/path/to/chromium"
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "chromium is missing: install Debian's package as root, then run the tests again:"
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}"
  exit 1
fi

echo "==> installing Debian's ${packages[*]} (apt-get) for the browser test"
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get update -q; then
  echo "apt-get update failed: the package lists could not be read (network or sources.list)"
  exit 1
fi
if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"; then
  echo "apt-get could not install ${packages[*]}: see its message above"
  exit 1
fi
command -v chromium >/dev/null || { echo "the package chromium installed no \`chromium\` command"; exit 1; }
echo "chromium: $(command -v chromium) installed"
