#!/usr/bin/env bash
# tests/test-dashboard.sh - the dashboard in a real browser.
#   test-dashboard.sh <build dir> <source dir> <screenshot.png>
# Starts redis-server and the Kafka mock cluster (tools/clmmock) on loopback,
# produces the quick start's stream (tools/clmgen, seed 42, 50000 events of
# 2000 people), runs clmd over it until the 30-day KPIs are written, then
# loads http://127.0.0.1:<port>/dashboard in headless Chromium
# (tests/browser/dashboard.test.mjs) which checks each panel against the
# JSON API and saves the screenshot (clmgen --traits and a breakdown by
# plan feed the breakdowns panel; the KPI trends and the cohorts are the
# KPI job's own keys, README "KPI history and cohorts"). Fails, never skips, when
# redis-server, node, Chromium or tests/browser/node_modules is missing
# (bash scripts/deps.sh --test installs them).
set -euo pipefail
build=$1 src=$2 shot=$3
EVENTS=50000 CUSTOMERS=2000

command -v redis-server >/dev/null || { echo "redis-server missing: bash scripts/deps.sh --test"; exit 1; }
command -v node >/dev/null || { echo "node missing: bash scripts/deps.sh --test"; exit 1; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "chromium missing: bash scripts/deps.sh --test"; exit 1; }
[ -d "$src/tests/browser/node_modules/playwright-core" ] ||
  { echo "tests/browser/node_modules missing: bash scripts/deps.sh --test"; exit 1; }

work=$(mktemp -d /tmp/clmd-dashboard-test.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p=$(( 20000 + RANDOM % 12000 )) # below the kernel's ephemeral ports, which the other tests take
  while ! port_free "$p"; do p=$(( 20000 + RANDOM % 12000 )); done
  echo "$p"
}
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no \
  --logfile "$work/redis.log" --daemonize no &
pids+=($!)
rcli() { redis-cli -p "$redis_port" "$@"; }
for _ in $(seq 200); do rcli ping >/dev/null 2>&1 && break; sleep 0.05; done
rcli ping >/dev/null

"$build/tools/clmmock" --topic clm.events:8 --topic clm.events.dlq:1 \
  --bootstrap-file "$work/bootstrap" >"$work/clmmock.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$work/bootstrap" ] && break; sleep 0.05; done
brokers=$(cat "$work/bootstrap")
"$build/tools/clmgen" --seed 42 --customers "$CUSTOMERS" --events "$EVENTS" --malformed 0.01 --traits \
  --brokers "$brokers" --topic clm.events --compression zstd

http_port=$(free_port)
cat >"$work/clmd.json" <<JSON
{
  "kafka": {"brokers": "$brokers", "topics": ["clm.events"], "group_id": "clmd-dashboard"},
  "redis": {"host": "127.0.0.1", "port": $redis_port, "prefix": "clm:"},
  "flush": {"interval_ms": 500},
  "http": {"port": $http_port},
  "traits": [{"name": "plan", "type": "string"}],
  "breakdowns": [{"dimension": "trait:plan", "values": ["basic", "pro", "team"]}]
}
JSON
"$build/daemon/clmd" -c "$work/clmd.json" >"$work/clmd.log" 2>&1 &
clmd_pid=$!
pids+=($clmd_pid)
done=
for _ in $(seq 1800); do
  consumed=$(rcli hget clm:stats consumed)
  if [ "${consumed:-0}" -ge "$EVENTS" ] 2>/dev/null && [ -n "$(rcli hget clm:kpi:30d window_end)" ]; then
    done=1
    break
  fi
  kill -0 "$clmd_pid" 2>/dev/null || { echo "clmd exited:"; cat "$work/clmd.log"; exit 1; }
  sleep 0.1
done
[ -n "$done" ] || { echo "clmd did not consume the stream in 180 s:"; tail -20 "$work/clmd.log"; exit 1; }

# the KPI job writes the history and the cohorts (README "KPI history and cohorts")
for _ in $(seq 600); do
  [ "$(rcli exists clm:kpi:history clm:kpi:cohorts)" = 2 ] && break
  sleep 0.1
done
[ "$(rcli exists clm:kpi:history clm:kpi:cohorts)" = 2 ] ||
  { echo "the KPI job wrote no clm:kpi:history or clm:kpi:cohorts in 60 s:"; tail -20 "$work/clmd.log"; exit 1; }

grep -q "dashboard: http://127.0.0.1:$http_port/dashboard" "$work/clmd.log" ||
  { echo "clmd did not log the dashboard address"; cat "$work/clmd.log"; exit 1; }
mkdir -p "$(dirname "$shot")"
node "$src/tests/browser/dashboard.test.mjs" "http://127.0.0.1:$http_port" "$shot"
# serving the page and the API leaves clmd able to stop cleanly
kill -TERM "$clmd_pid"
rc=0
wait "$clmd_pid" || rc=$?
[ "$rc" -eq 0 ] || { echo "clmd exited $rc after serving the dashboard:"; tail -20 "$work/clmd.log"; exit 1; }
