#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite. Ends with
# one line "N passed, N failed" counting every test case (each cmocka case is
# one TAP line). Exit status 0 only when nothing failed.
#   scripts/test.sh            the default suite (well under 20 minutes)
#   CLM_SOAK=1 scripts/test.sh adds the long soak variants
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test || { echo "0 passed, 1 failed"; exit 1; }
dir=build-test
if ! bash scripts/build.sh "$dir"; then
  ninja -C "$dir" 2>&1 | tail -30
  echo "0 passed, 1 failed"
  exit 1
fi
setup=()
[ "${CLM_SOAK:-0}" = "1" ] && setup=(--suite soak --suite unit --suite integration)
meson test -C "$dir" --print-errorlogs --num-processes 2 "${setup[@]}" 2>&1 | tee "$dir/test-output.txt" | grep -vE '^\s*$' | tail -n 60
status=${PIPESTATUS[0]}
# Count TAP results of every test program from meson's log.
log="$dir/meson-logs/testlog.txt"
passed=$(grep -cE '^ok [0-9]+' "$log" || true)
failed=$(grep -cE '^not ok [0-9]+' "$log" || true)
# A program that crashed or timed out before printing its plan counts once.
crashed=$(grep -cE '^(FAIL|TIMEOUT|ERROR)\b| (FAIL|TIMEOUT|ERROR) +[0-9.]+s' "$dir/test-output.txt" || true)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=$(( crashed > 0 ? crashed : 1 ))
fi
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
