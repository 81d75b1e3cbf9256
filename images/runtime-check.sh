#!/usr/bin/env bash
# What the images promise, checked without a container engine: the release
# binaries run as UID/GID 65532 in a user namespace with the whole root
# filesystem read-only (bwrap --ro-bind / /) and only /tmp writable (the
# chart's emptyDir), no capabilities; the API migrates, serves /health and
# /ready, and both binaries' `healthcheck` pass against them.
# Needs bubblewrap and a built harness; Postgres and Redis come from
# opsbox-harness (private, on loopback).
#
# usage: images/runtime-check.sh [RELEASE_DIR]   (default target/release)
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ ${1:-} == -h || ${1:-} == --help ]] && usage

readonly RELEASE=${1:-target/release}
readonly HARNESS=${HARNESS:-target/debug/opsbox-harness}

# Runs a command as the images' user on a read-only root.
jail() {
  bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp \
    --unshare-user --uid 65532 --gid 65532 --unshare-pid --unshare-ipc \
    --cap-drop ALL --die-with-parent --new-session -- "$@"
}

wait_healthy() {
  local binary=$1 flag=$2 addr=$3
  for _ in $(seq 50); do
    if jail "$binary" healthcheck "$flag" "$addr" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "FAIL: $binary never became healthy on $addr" >&2
  return 1
}

check() {
  local api=$RELEASE/opsbox-api worker=$RELEASE/opsbox-worker
  local api_addr=127.0.0.1:18080 worker_addr=127.0.0.1:19091
  jail id -u | grep -qx 65532 || { echo "FAIL: not UID 65532" >&2; return 1; }
  if jail sh -c 'touch /usr/opsbox-write-probe' 2>/dev/null; then
    echo "FAIL: the root filesystem is writable" >&2; return 1
  fi
  jail "$api" migrate
  jail "$api" migrate   # idempotent: the second run applies nothing
  OPSBOX_API_ADDR=$api_addr jail "$api" serve >/tmp/runtime-check-api.log 2>&1 &
  local api_pid=$!
  OPSBOX_WORKER_METRICS_ADDR=$worker_addr jail "$worker" >/tmp/runtime-check-worker.log 2>&1 &
  local worker_pid=$!
  trap 'kill "$api_pid" "$worker_pid" 2>/dev/null || true' EXIT
  local started=$SECONDS
  wait_healthy "$api" --addr "$api_addr"
  wait_healthy "$worker" --metrics-addr "$worker_addr"
  echo "healthy within $((SECONDS - started)) s"
  jail "$api" healthcheck --url "http://$api_addr/ready"
  jail "$worker" healthcheck --url "http://$worker_addr/ready"
  # Real work on a read-only root: a task written to Postgres through the API.
  curl -fsS -X POST -H 'content-type: application/json' \
    -d '{"title":"runtime-check","payload":{"ms":10}}' "http://$api_addr/tasks" >/dev/null
  kill -TERM "$api_pid" "$worker_pid"
  wait "$api_pid" "$worker_pid" || true
  trap - EXIT
  echo "OK: UID 65532, read-only root, /tmp only, no capabilities: migrate, serve, a task, /health, /ready, healthcheck"
}

if [[ -z ${DATABASE_URL:-} ]]; then
  exec "$HARNESS" exec -- "$0" "$RELEASE"
fi
check
