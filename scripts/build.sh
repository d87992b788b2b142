#!/usr/bin/env bash
# Configures (once) and builds clmd into the build directory given as $1
# (default: build). Extra arguments go to `meson setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" -Dwerror=true "$@" >/dev/null || meson setup --wipe "$dir" -Dwerror=true "$@"
fi
ninja -C "$dir" >/dev/null
