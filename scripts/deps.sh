#!/usr/bin/env bash
# Installs the Debian 12 packages clmd needs to build, run and test, when any
# is missing. Safe to run again: it installs nothing when all are present.
set -euo pipefail

PKGS=(
  build-essential pkg-config meson ninja-build
  librdkafka-dev libjansson-dev libhiredis-dev libcmocka-dev
  libjsmn-dev libxxhash-dev libsystemd-dev libmicrohttpd-dev libssl-dev libcurl4-openssl-dev
  redis-server redis-tools kcat
)
if [ "${1:-}" = "--test" ]; then
  PKGS+=(clang libclang-rt-14-dev valgrind systemd openssl prometheus-alertmanager)
  PKGS+=(chromium) # the dashboard's browser test (tests/browser), with node and npm:
  command -v npm >/dev/null || PKGS+=(nodejs npm) # Debian's, unless another node is installed
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The browser test's one npm package (playwright-core, pinned in
# tests/browser/package-lock.json; it drives Debian's chromium, no browser
# download), installed when missing or different from the lock.
if [ "${1:-}" = "--test" ]; then
  browser="$(dirname "$0")/../tests/browser"
  if ! (cd "$browser" && node -e 'const l = require("./package-lock.json").packages;
      process.exit(require("./node_modules/playwright-core/package.json").version ===
                   l["node_modules/playwright-core"].version ? 0 : 1)' 2>/dev/null); then
    echo "installing tests/browser/node_modules (npm ci)" >&2
    (cd "$browser" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
  fi
fi
