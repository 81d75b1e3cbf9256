#!/usr/bin/env bash
# Benchmarks on loopback, bounded in time: the API against a bare axum server
# and against Postgres' own INSERT rate, then end-to-end job throughput.
# Usage: scripts/bench.sh   (env: BENCH_SECONDS=10, BENCH_TASKS=3000, BIN_DIR=target/release)
set -euo pipefail

usage() {
  echo "usage: $0   (run 'make bench' to build first)" >&2
  exit 2
}
[[ $# -eq 0 ]] || usage

seconds=${BENCH_SECONDS:-10}
tasks=${BENCH_TASKS:-3000}
bin=${BIN_DIR:-target/release}
examples=$bin/examples
state=target/bench
cores=$(nproc)
api_addr=127.0.0.1:18081
bare_addr=127.0.0.1:18080
pids=()

cleanup() {
  trap - EXIT INT TERM
  if [[ ${#pids[@]} -gt 0 ]]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

pgbench_bin() {
  if command -v pgbench >/dev/null 2>&1; then
    command -v pgbench
  else
    find /usr/lib/postgresql -name pgbench -type f | sort -V | tail -n 1
  fi
}

wait_http() {
  local url=$1
  for _ in $(seq 1 200); do
    curl -fs -o /dev/null "$url" && return 0
    sleep 0.05
  done
  echo "nothing answered at $url" >&2
  exit 1
}

# wrk's figures: requests/s, p50, p99.
wrk_figures() {
  awk '/Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2}
       END {printf "%s | %s | %s", rps, p50, p99}'
}

start_dependencies() {
  rm -rf "$state"
  mkdir -p "$state"
  "$bin/opsbox-harness" up --state-dir "$state/deps" >"$state/deps.env" 2>"$state/deps.log" &
  pids+=($!)
  until grep -q '^REDIS_URL=' "$state/deps.env"; do
    kill -0 "${pids[0]}" 2>/dev/null || { cat "$state/deps.log" >&2; exit 1; }
    sleep 0.1
  done
  set -a
  # shellcheck disable=SC1090
  source <(grep -E '^(DATABASE_URL|REDIS_URL)=' "$state/deps.env")
  set +a
  "$bin/opsbox-api" migrate >/dev/null
}

start_api() {
  RUST_LOG=warn OPSBOX_API_ADDR=$api_addr "$bin/opsbox-api" >"$state/api.log" 2>&1 &
  pids+=($!)
  wait_http "http://$api_addr/ready"
}

bench_health() {
  "$examples/bare_hello" "$bare_addr" &
  local bare=$!
  pids+=("$bare")
  wait_http "http://$bare_addr/"
  echo "| bare axum \`GET /\` (ceiling) | $(wrk -t2 -c64 -d"${seconds}s" --latency "http://$bare_addr/" | wrk_figures) |"
  kill "$bare"
  echo "| opsbox-api \`GET /health\` | $(wrk -t2 -c64 -d"${seconds}s" --latency "http://$api_addr/health" | wrk_figures) |"
}

bench_create() {
  local clients=16
  echo "| opsbox-api \`POST /tasks\`, $clients connections | $(wrk -t2 -c$clients -d"${seconds}s" --latency -s scripts/bench/create-task.lua "http://$api_addr/tasks" | wrk_figures) |"
  local figures
  figures=$("$(pgbench_bin)" -n -c$clients -j2 -T"$seconds" -M prepared -f scripts/bench/insert-task.sql "$DATABASE_URL" 2>/dev/null |
    awk '/^latency average/ {avg=$4 $5} /^tps/ {tps=$3} END {printf "%.0f | (average %s) | ", tps, avg}')
  echo "| pgbench, the same INSERT, $clients connections | $figures |"
}

# The same comparison with the database on a core of its own (Postgres on the
# last CPU; the client and, for the API, the server on the others), so that
# "the database's own limit" is not eaten by the client and the API sharing
# its CPU.
bench_create_pinned() {
  local clients=16 last=$((cores - 1)) rest postmaster pid
  rest=$([[ $last -gt 1 ]] && echo "0-$((last - 1))" || echo 0)
  postmaster=$(head -n 1 "$state/deps/postgres/data/postmaster.pid")
  # Backends come and go; one that exited meanwhile is no error.
  for pid in "$postmaster" $(pgrep -P "$postmaster"); do
    taskset -p -c "$last" "$pid" >/dev/null 2>&1 || true
  done
  RUST_LOG=warn OPSBOX_API_ADDR=127.0.0.1:18082 taskset -c "$rest" "$bin/opsbox-api" >"$state/api-pinned.log" 2>&1 &
  local pinned=$!
  pids+=("$pinned")
  wait_http "http://127.0.0.1:18082/ready"
  echo "| pinned: opsbox-api \`POST /tasks\` (API + wrk on CPU $rest, Postgres on CPU $last) | $(taskset -c "$rest" wrk -t1 -c$clients -d"${seconds}s" --latency -s scripts/bench/create-task.lua "http://127.0.0.1:18082/tasks" | wrk_figures) |"
  kill -TERM "$pinned"
  local figures
  figures=$(taskset -c "$rest" "$(pgbench_bin)" -n -c$clients -j1 -T"$seconds" -M prepared -f scripts/bench/insert-task.sql "$DATABASE_URL" 2>/dev/null |
    awk '/^latency average/ {avg=$4 $5} /^tps/ {tps=$3} END {printf "%.0f | (average %s) | ", tps, avg}')
  echo "| pinned: pgbench (pgbench on CPU $rest, Postgres on CPU $last) | $figures |"
  for pid in "$postmaster" $(pgrep -P "$postmaster"); do
    taskset -p -c "0-$last" "$pid" >/dev/null 2>&1 || true
  done
}

bench_jobs() {
  local workers=$1 i
  local -a worker_pids=()
  for ((i = 0; i < workers; i++)); do
    RUST_LOG=warn OPSBOX_WORKER_METRICS_ADDR=127.0.0.1:0 "$bin/opsbox-worker" >"$state/worker-$i.log" 2>&1 &
    worker_pids+=($!)
  done
  pids+=("${worker_pids[@]}")
  local figures
  figures=$("$examples/e2e_throughput" --api "http://$api_addr" --tasks "$tasks" --concurrency 32)
  kill -TERM "${worker_pids[@]}"
  wait "${worker_pids[@]}" 2>/dev/null || true
  echo "| $workers worker(s) x $cores consumers | $figures |"
}

main() {
  start_dependencies
  start_api
  echo "## make bench: $(date -u +%Y-%m-%dT%H:%MZ), $cores cores, ${seconds}s per wrk/pgbench run, loopback"
  echo
  echo "| what | requests/s | p50 | p99 |"
  echo "|---|---|---|---|"
  bench_health
  bench_create
  if [[ $cores -ge 2 ]]; then
    bench_create_pinned
  fi
  echo
  echo "| end to end: create → run → DONE, io 0 ms, $tasks tasks | figures |"
  echo "|---|---|"
  bench_jobs 1
  bench_jobs 2
}

main "$@"
