#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite:
#   1. every test (unit and integration) in a normal build (werror on);
#   2. the concurrency tests again with clmd and the tests built under
#      ThreadSanitizer (clang; meson test --setup tsan);
#   3. the whole suite again under AddressSanitizer and UBSan (clang;
#      meson test --setup asan), then the libFuzzer targets for the event
#      decoders and the config loader, FUZZ_SECONDS each (default 60).
# Ends with one line "N passed, N failed" counting every test case of both
# runs (each cmocka case is one TAP line; a program that dies before printing
# its results counts as one failure). Exit status 0 only when nothing failed.
#   CLM_NO_TSAN=1 / CLM_NO_ASAN=1 skip step 2 / step 3 (for a quick local run)
#   --soak: instead, the crash-loop soak: the kill -9 test over a stream of
#   CLM_SOAK_EVENTS events (default 1,000,000; about 5 minutes on 2 cores)
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
# count_run DIR LOGNAME STATUS: adds a run's TAP results to the totals
count_run() {
  local log="$1/meson-logs/$2" status=$3 p f
  p=$(grep -cE '^ok [0-9]+' "$log" 2>/dev/null || true)
  f=$(grep -cE '^not ok [0-9]+' "$log" 2>/dev/null || true)
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
}

build_or_fail() { # DIR [meson setup args]
  local dir=$1
  shift
  if ! bash scripts/build.sh "$dir" "$@"; then
    ninja -C "$dir" 2>&1 | tail -30
    failed=$((failed + 1))
    return 1
  fi
}

if [ "${1:-}" = "--soak" ]; then
  echo "== soak: SIGKILL at 10 random moments over ${CLM_SOAK_EVENTS:-1000000} events (build-test)"
  if build_or_fail build-test; then
    CLM_SOAK_EVENTS=${CLM_SOAK_EVENTS:-1000000} CLM_INGEST_FILTER=kill9_restart \
      meson test -C build-test test-ingest-kill --print-errorlogs --timeout-multiplier 10 2>&1 |
      grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout):|>>>|ERROR|FAIL' | tail -n 40
    count_run build-test testlog.txt "${PIPESTATUS[0]}"
  fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
fi

echo "== tests (build-test)"
if build_or_fail build-test; then
  meson test -C build-test --print-errorlogs --num-processes 2 2>&1 |
    grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout):|>>>|ERROR|FAIL' | tail -n 80
  count_run build-test testlog.txt "${PIPESTATUS[0]}"
fi

if [ "${CLM_NO_TSAN:-0}" != "1" ]; then
  echo "== concurrency tests under ThreadSanitizer (build-tsan)"
  if CC=clang build_or_fail build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug; then
    meson test -C build-tsan --setup tsan --suite concurrency --print-errorlogs 2>&1 |
      grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout):|WARNING: ThreadSanitizer|SUMMARY|>>>' | tail -n 40
    count_run build-tsan testlog-tsan.txt "${PIPESTATUS[0]}"
  fi
fi

if [ "${CLM_NO_ASAN:-0}" != "1" ]; then
  echo "== whole suite under AddressSanitizer + UBSan, then the fuzzers (build-asan)"
  if CC=clang build_or_fail build-asan -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbuildtype=debug -Dfuzz=true; then
    meson test -C build-asan --setup asan --print-errorlogs --num-processes 2 2>&1 |
      grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout):|runtime error|ERROR: AddressSanitizer|>>>' | tail -n 40
    count_run build-asan testlog-asan.txt "${PIPESTATUS[0]}"
    secs=${FUZZ_SECONDS:-60}
    pids=()
    for target in decode config record journal; do
      mkdir -p "build-asan/fuzz-$target"
      # new inputs go to the scratch directory first; the seeds stay as they are
      build-asan/tests/fuzz_$target -max_total_time="$secs" -print_final_stats=1 \
        "build-asan/fuzz-$target" "tests/fuzz/corpus/$target" >"build-asan/fuzz-$target.log" 2>&1 &
      pids+=($!)
    done
    i=0
    for target in decode config record journal; do
      if wait "${pids[$i]}"; then
        echo "fuzz_$target: $(grep -E 'stat::number_of_executed_units' "build-asan/fuzz-$target.log" | awk '{print $2}') runs in ${secs}s, no failure"
        passed=$((passed + 1))
      else
        echo "fuzz_$target FAILED:"; tail -30 "build-asan/fuzz-$target.log"
        failed=$((failed + 1))
      fi
      i=$((i + 1))
    done
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
