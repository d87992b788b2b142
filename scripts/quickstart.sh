#!/usr/bin/env bash
# The quick start: installs what is missing, builds, starts a local Kafka
# (librdkafka's mock cluster, tools/clmmock) and a redis-server on loopback,
# produces a realistic generated stream, runs clmd over it, and shows what
# came out, read back from Redis.
#   QS_EVENTS=50000 QS_CUSTOMERS=2000 bash scripts/quickstart.sh
# In an interactive terminal, or with --serve, it keeps everything running
# afterwards so you can open the dashboard and produce more events with kcat
# (Ctrl-C stops all); otherwise it stops. Its last line is the dashboard's URL.
#   bash scripts/quickstart.sh --serve
set -euo pipefail
SERVE=
[ "${1:-}" = "--serve" ] && SERVE=1
cd "$(dirname "$0")/.."
root=$PWD
EVENTS=${QS_EVENTS:-50000}
CUSTOMERS=${QS_CUSTOMERS:-2000}

bash scripts/deps.sh
bash scripts/build.sh build
bin=$root/build

work=$(mktemp -d /tmp/clmd-quickstart.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
redis_port=6390
while ! port_free "$redis_port"; do redis_port=$((redis_port + 1)); done

echo "== starting redis-server on 127.0.0.1:$redis_port (data in $work)"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no \
  --logfile "$work/redis.log" --daemonize no &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
rcli() { redis-cli -p "$redis_port" "$@"; }
# "field value" reply lines -> two aligned columns
pairs() { paste - - | awk -F'\t' '{printf "   %-24s %s\n", $1, $2}'; }

echo "== starting the local Kafka (mock cluster): topics clm.events (8 partitions), clm.events.dlq,"
echo "   clm.events.clmd-identity (8 partitions: the identity merge's internal topic)"
"$bin/tools/clmmock" --topic clm.events:8 --topic clm.events.dlq:1 \
  --topic clm.events.clmd-identity:8 \
  --bootstrap-file "$work/bootstrap" >"$work/clmmock.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.05; done
brokers=$(cat "$work/bootstrap")
echo "   Kafka bootstrap address: $brokers"

echo "== producing $EVENTS generated events of $CUSTOMERS people (1% malformed; 20% of the people"
echo "   browse anonymously as a-<n> before they identify as c-<n>) into clm.events"
"$bin/tools/clmgen" --seed 42 --customers "$CUSTOMERS" --events "$EVENTS" --malformed 0.01 --anon 0.2 --traits \
  --brokers "$brokers" --topic clm.events --compression zstd

http_port=9108
while ! port_free "$http_port"; do http_port=$((http_port + 1)); done
cat >"$work/clmd.json" <<JSON
{
  "kafka": {"brokers": "$brokers", "topics": ["clm.events"], "group_id": "clmd-quickstart"},
  "redis": {"host": "127.0.0.1", "port": $redis_port, "prefix": "clm:"},
  "flush": {"interval_ms": 500},
  "http": {"port": $http_port},
  "rfm": {"refresh_s": 1},
  "segments": [
    {"name": "reactivation", "rule": "rfm_segment in [\"At risk\", \"Hibernating\", \"Can't lose\"]"},
    {"name": "retained_at_risk", "rule": "stage == \"retention\" and risk >= 0.5"},
    {"name": "champions", "rule": "rfm_segment == \"Champions\""},
    {"name": "first_purchase", "rule": "stage == \"conversion\""},
    {"name": "pro_plan", "rule": "plan == \"pro\""}
  ],
  "traits": [
    {"name": "plan", "type": "string"},
    {"name": "country", "field": "properties.country", "type": "string", "update": "first"},
    {"name": "company_size", "field": "properties.company_size", "type": "number", "update": "max"}
  ],
  "breakdowns": [{"dimension": "trait:plan", "values": ["basic", "pro", "team"]}],
  "identity": {"topic": "clm.events.clmd-identity"}
}
JSON
echo "== running clmd -c $work/clmd.json (log: $work/clmd.log)"
start=$(date +%s%N)
"$bin/daemon/clmd" -c "$work/clmd.json" >"$work/clmd.log" 2>&1 &
clmd_pid=$!
pids+=($clmd_pid)
consumed=0
for _ in $(seq 1200); do
  consumed=$(rcli hget clm:stats consumed)
  [ "${consumed:-0}" -ge "$EVENTS" ] 2>/dev/null && [ -n "$(rcli hget clm:kpi:30d window_end)" ] && break
  kill -0 "$clmd_pid" 2>/dev/null || { echo "clmd exited:"; cat "$work/clmd.log"; exit 1; }
  sleep 0.1
done
end=$(date +%s%N)
echo "   clmd consumed ${consumed:-0} of $EVENTS messages in $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", (b-a)/1e9}') s (including ~3 s to join the consumer group)"

# merges follow the events through the internal topic: wait until their count holds
merges=-1
for _ in $(seq 30); do
  now=$(rcli hget clm:stats merges)
  [ "${now:-0}" = "$merges" ] && [ "$merges" -gt 0 ] && break
  merges=${now:-0}
  sleep 2
done
echo "   identity merges: ${merges} anonymous visitors merged into the customer they identified as"

echo
echo "== what came out, read back from Redis"
echo "-- totals (clm:stats)"
rcli hgetall clm:stats | pairs
echo "-- rejected events by reason (clm:rejected); each is in topic clm.events.dlq with its reason"
rcli hgetall clm:rejected | pairs | sort -k2 -nr
customers=$(rcli --scan --pattern 'clm:customer:*' | wc -l)
echo "-- customers: $customers hashes clm:customer:<id>; the five with the most revenue:"
for key in $(rcli --scan --pattern 'clm:customer:*'); do
  echo "$(rcli hget "$key" revenue) $key"
done | sort -nr | awk 'NR <= 5' | while read -r rev key; do
  printf '   %-22s revenue %-10s orders %-4s events %-5s last %s\n' "${key#clm:customer:}" "$rev" \
    "$(rcli hget "$key" orders)" "$(rcli hget "$key" events)" "$(rcli hget "$key" last_type)"
done
echo "-- one customer in full: redis-cli -p $redis_port hgetall clm:customer:c-1"
rcli hgetall clm:customer:c-1 | pairs
echo "-- KPIs of the last 30 days of event time (clm:kpi:30d)"
rcli hgetall clm:kpi:30d | pairs
echo "-- customers now in each lifecycle stage (clm:stage_counts)"
rcli hgetall clm:stage_counts | pairs
# a segment pass that started after the last event was flushed
pass0=$(rcli hget clm:segments pass)
for _ in $(seq 600); do
  [ "$(rcli hget clm:segments pass)" -ge $((${pass0:-0} + 2)) ] 2>/dev/null && break
  sleep 0.1
done
echo "-- segments (clm:segment:<name>, clm:segments) and RFM segments: clmctl segments"
"$bin/tools/clmctl" --redis "127.0.0.1:$redis_port" --prefix clm: segments | sed 's/^/   /'
echo "-- KPIs per plan over the last 30 days (clm:breakdown:trait:plan:<day>): clmctl breakdown trait:plan --last 30"
"$bin/tools/clmctl" --redis "127.0.0.1:$redis_port" --prefix clm: breakdown trait:plan --last 30 | sed 's/^/   /'
echo "-- customers most at risk of churning (clm:at_risk): clmctl at-risk --top 5"
"$bin/tools/clmctl" --redis "127.0.0.1:$redis_port" --prefix clm: at-risk --top 5 | sed 's/^/   /'
echo "-- the latest alerts (stream clm:alerts; also on the Kafka topic clm.alerts): clmctl alerts --count 5"
"$bin/tools/clmctl" --redis "127.0.0.1:$redis_port" --prefix clm: alerts --count 5 | sed 's/^/   /'
echo "-- progress (clm:progress:{clmd-quickstart:<partition>} offset:clm.events): partition -> next offset"
for p in $(rcli smembers clm:partitions:clmd-quickstart | sort -n); do
  printf '   [%s] %s' "$p" "$(rcli hget "clm:progress:{clmd-quickstart:$p}" offset:clm.events)"
done
echo

echo
echo "Kafka (mock cluster) bootstrap address: $brokers"
echo "Redis: redis-cli -p $redis_port"
echo "Metrics and health: http://127.0.0.1:$http_port/metrics  http://127.0.0.1:$http_port/healthz"
echo "JSON API (README \"Dashboard and API\"): curl http://127.0.0.1:$http_port/api/v1/funnel?days=30"
dashboard="Dashboard: http://127.0.0.1:$http_port/dashboard"
if [ -t 0 ] || [ -n "$SERVE" ]; then
  cat <<TXT
clmd keeps running. Produce more events, for example:
  echo 'c-42	{"event_id":"x-1","customer_id":"c-42","type":"purchase","ts":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","amount":49.9}' | kcat -b $brokers -t clm.events -P -K '\t'
  redis-cli -p $redis_port hgetall clm:customer:c-42
Press Ctrl-C to stop clmd, Kafka and Redis.
$dashboard
TXT
  wait "$clmd_pid" || true
else
  kill -TERM "$clmd_pid"
  wait "$clmd_pid" && echo "clmd stopped cleanly (exit 0)."
  echo "$dashboard (served while clmd runs: bash scripts/quickstart.sh --serve)"
fi
