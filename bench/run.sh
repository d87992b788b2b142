#!/usr/bin/env bash
# bench/run.sh - builds clmd for speed and runs every benchmark, one after the
# other, on this machine.
#
#   bash bench/run.sh
#
# Installs missing Debian 12 packages (scripts/deps.sh), configures a release
# build in build-bench/ (once), builds clmd and the bench/bench_* programs
# that exist, and runs them in this order: bench_core, bench_decode,
# bench_e2e, bench_fit, then any other bench_* program. Each prints its
# table; the script ends with ONE line of key=value pairs: every program's
# final line merged, each key prefixed with the program's short name unless
# it already starts with it (bench_decode's "ratio" becomes "decode_ratio",
# bench_core's "core_eps_1" stays), followed by run_date, run_nproc and
# run_quick. A benchmark that fails is reported as <name>_status=failed and
# the script exits 1 after running the rest; a slow figure never fails.
#
# Environment:
#   BENCH_QUICK=1       small, quick runs (a smoke test of the figures)
#   BENCH_ONLY="core decode"
#                       run only these (short names: core decode e2e fit ...)
#   BENCH_CORE_ARGS, BENCH_DECODE_ARGS, BENCH_E2E_ARGS, BENCH_FIT_ARGS, ...
#                       arguments for one program, replacing the defaults
#                       below (BENCH_<SHORT NAME IN CAPITALS>_ARGS)
#   BENCH_BUILD_DIR     build directory (default build-bench)
#   BENCH_LOG_DIR       keep each program's full output there (default: a
#                       temporary directory, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."

quick="${BENCH_QUICK:-0}"
dir="${BENCH_BUILD_DIR:-build-bench}"

# Defaults per program; BENCH_QUICK=1 picks the second column.
default_args() {
  case "$1:$quick" in
    core:1)   echo "--events 200000 --customers 10000 --rss-customers 100000 --repeat 3" ;;
    core:*)   echo "" ;;
    decode:1) echo "200000" ;;
    decode:*) echo "" ;;
    e2e:1)    echo "--quick" ;;
    e2e:*)    echo "" ;;
    fit:1)    echo "10000 100000" ;;
    cluster:1) echo "--quick" ;;
    *)        echo "" ;;
  esac
}

bash scripts/deps.sh
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" -Dbuildtype=release >/dev/null
fi

# Build only clmd and the benchmarks: a broken test elsewhere must not stop them.
ninja -C "$dir" build.ninja >/dev/null # picks up benchmarks added since setup
mapfile -t found < <(ninja -C "$dir" -t targets all | sed -n 's#^\(bench/bench_[A-Za-z0-9_]*\): .*#\1#p')
order=()
for name in core decode e2e fit; do
  for t in "${found[@]}"; do [ "$t" = "bench/bench_$name" ] && order+=("$name"); done
done
for t in $(printf '%s\n' "${found[@]}" | sort); do
  name="${t#bench/bench_}"
  case " ${order[*]} " in *" $name "*) ;; *) order+=("$name") ;; esac
done
if [ -n "${BENCH_ONLY:-}" ]; then
  keep=()
  for name in "${order[@]}"; do
    case " $BENCH_ONLY " in *" $name "*) keep+=("$name") ;; esac
  done
  order=("${keep[@]}")
fi
if [ "${#order[@]}" -eq 0 ]; then
  echo "run.sh: no benchmark to run" >&2
  exit 1
fi
targets=(daemon/clmd)
for name in "${order[@]}"; do targets+=("bench/bench_$name"); done
ninja -C "$dir" "${targets[@]}" >/dev/null

if [ -n "${BENCH_LOG_DIR:-}" ]; then
  logs="$BENCH_LOG_DIR"
  mkdir -p "$logs"
else
  logs="$(mktemp -d)"
  trap 'rm -rf "$logs"' EXIT
fi

merged=""
status=0
for name in "${order[@]}"; do
  var="BENCH_$(echo "$name" | tr '[:lower:]' '[:upper:]')_ARGS"
  if [ -n "${!var+set}" ]; then args="${!var}"; else args="$(default_args "$name")"; fi
  echo
  echo "== bench_$name $args"
  # shellcheck disable=SC2086 # the arguments are words on purpose
  if "$dir/bench/bench_$name" $args 2>&1 | tee "$logs/$name.log"; then
    last="$(tail -n 1 "$logs/$name.log")"
    for kv in $last; do
      case "$kv" in
        *=*) key="${kv%%=*}"
             case "$key" in "$name"_*) ;; *) key="${name}_$key" ;; esac
             merged="$merged $key=${kv#*=}" ;;
      esac
    done
  else
    merged="$merged ${name}_status=failed"
    status=1
  fi
done

echo
echo "${merged# } run_date=$(date -u +%Y-%m-%d) run_nproc=$(nproc) run_quick=$quick"
exit "$status"
