#!/usr/bin/env bash
# Runs private Postgres + Redis, the API and a worker in the foreground.
# Ctrl-C (or SIGTERM) stops everything and leaves no process behind.
# Usage: scripts/run-stack.sh    (env: STATE_DIR, OPSBOX_API_ADDR, OPSBOX_WORKER_METRICS_ADDR, BIN_DIR)
set -euo pipefail

usage() {
  echo "usage: $0   (builds nothing; run 'make run' to build first)" >&2
  exit 2
}
[[ $# -eq 0 ]] || usage

state_dir=${STATE_DIR:-.opsbox}/run
bin_dir=${BIN_DIR:-target/release}
export OPSBOX_API_ADDR=${OPSBOX_API_ADDR:-127.0.0.1:8080}
export OPSBOX_WORKER_METRICS_ADDR=${OPSBOX_WORKER_METRICS_ADDR:-127.0.0.1:9091}
pids=()

stop_all() {
  trap - EXIT INT TERM
  if [[ ${#pids[@]} -gt 0 ]]; then
    echo "stopping: ${pids[*]}" >&2
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop_all EXIT INT TERM

start_dependencies() {
  mkdir -p "$state_dir"
  local env_file=$state_dir/deps.env
  : >"$env_file"
  "$bin_dir/opsbox-harness" up --state-dir "$state_dir/deps" >"$env_file" 2>"$state_dir/deps.log" &
  pids+=($!)
  local harness=$!
  # The harness prints the URLs once both servers accept connections.
  until grep -q '^REDIS_URL=' "$env_file" && grep -q '^DATABASE_URL=' "$env_file"; do
    if ! kill -0 "$harness" 2>/dev/null; then
      echo "the dependencies did not start; see $state_dir/deps.log" >&2
      cat "$state_dir/deps.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  set -a
  # shellcheck disable=SC1090
  source <(grep -E '^(DATABASE_URL|REDIS_URL)=' "$env_file")
  set +a
}

main() {
  start_dependencies
  "$bin_dir/opsbox-api" migrate
  "$bin_dir/opsbox-api" &
  pids+=($!)
  "$bin_dir/opsbox-worker" &
  pids+=($!)
  echo "API on http://$OPSBOX_API_ADDR, worker metrics on http://$OPSBOX_WORKER_METRICS_ADDR/metrics; Ctrl-C stops everything" >&2
  # The first process to exit brings the rest down with it.
  wait -n "${pids[@]}" || true
}

main "$@"
