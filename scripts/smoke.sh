#!/usr/bin/env bash
# The post-deploy smoke check of a running API: liveness, readiness, then a
# synthetic task created, run and awaited to DONE within a bound (a worker and
# the queue must work for that). Prints each step with its latency.
#
# Usage: scripts/smoke.sh [--url URL] [--timeout SECONDS]
#   --url      the API's base URL (default http://127.0.0.1:8080)
#   --timeout  bound for the task to reach DONE (default 30)
# Exit: 0 all steps passed, 1 a step failed (named on stderr), 2 usage.
# `opsbox smoke` is the same check from the console's binary.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

url=http://127.0.0.1:8080
timeout=30
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) url=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
done
[[ "$timeout" =~ ^[0-9]+$ ]] || usage
url=${url%/}
for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || { echo "smoke: $tool is not installed" >&2; exit 1; }
done

now_ms() { date +%s%3N; }

# step NAME CMD...: runs CMD, prints "ok|FAIL NAME (N ms)"; a failure ends the check.
step() {
  local name=$1 start status=0
  shift
  start=$(now_ms)
  "$@" || status=$?
  if [[ $status -eq 0 ]]; then
    printf 'ok    %-28s %6d ms\n' "$name" "$(($(now_ms) - start))"
  else
    printf 'FAIL  %-28s %6d ms\n' "$name" "$(($(now_ms) - start))"
    echo "smoke: $name failed against $url" >&2
    exit 1
  fi
}

expect_200() { curl -fsS --max-time 5 -o /dev/null "$url$1"; }

task_id=
create_task() {
  task_id=$(curl -fsS --max-time 5 -H 'content-type: application/json' \
    -d "{\"title\": \"smoke $(date -u +%Y-%m-%dT%H:%M:%SZ)\"}" "$url/tasks" | jq -er .id)
}

run_task() { curl -fsS --max-time 5 -X POST -o /dev/null "$url/tasks/$task_id/run"; }

await_done() {
  local deadline=$((SECONDS + timeout)) status
  while ((SECONDS < deadline)); do
    status=$(curl -fsS --max-time 5 "$url/tasks/$task_id" | jq -r .status)
    case "$status" in
      DONE) return 0 ;;
      FAILED) echo "smoke: task $task_id FAILED" >&2; return 1 ;;
    esac
    sleep 0.2
  done
  echo "smoke: task $task_id still ${status:-unknown} after ${timeout}s" >&2
  return 1
}

total=$(now_ms)
step "GET /health" expect_200 /health
step "GET /ready" expect_200 /ready
step "POST /tasks" create_task
step "POST /tasks/{id}/run" run_task
step "task DONE (<= ${timeout}s)" await_done
echo "smoke: passed against $url in $(($(now_ms) - total)) ms (task $task_id)"
