#!/usr/bin/env bash
# The post-deploy smoke check of a running API, as `opsbox smoke` runs it:
# liveness, readiness, then a synthetic task created, run and awaited to DONE
# within a bound (a worker and the queue must work for that). Prints each step
# with its latency. The check has one implementation, in opsbox: this script
# only finds the binary and passes the options on.
#
# Usage: scripts/smoke.sh [--url URL] [--timeout DURATION] [--json]
#   --url      the API's base URL (default: the running local environment's
#              router; required against a cluster, e.g. after port-forward.sh)
#   --timeout  bound for the task to reach DONE: 30s, 2m, or seconds (default 30s)
#   --json     print the report as JSON
# The binary: $OPSBOX_BIN, else opsbox on PATH, else target/release/opsbox or
# target/debug/opsbox, else `cargo run --release -p opsbox` builds it.
# Exit: 0 passed, 1 a step failed (named on stderr), 2 usage, 4 unreachable.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)

args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url)
      [[ $# -ge 2 ]] || usage
      args+=(--url "$2")
      shift 2
      ;;
    --timeout)
      [[ $# -ge 2 ]] || usage
      # A bare number is seconds, as this script always took it.
      if [[ "$2" =~ ^[0-9]+$ ]]; then args+=(--timeout "${2}s"); else args+=(--timeout "$2"); fi
      shift 2
      ;;
    --json)
      args+=(--json)
      shift
      ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
done

# The opsbox to run, as a command line, into the array `opsbox`.
find_opsbox() {
  local candidate
  if [[ -n "${OPSBOX_BIN:-}" ]]; then
    [[ -x "$OPSBOX_BIN" ]] || { echo "smoke: OPSBOX_BIN=$OPSBOX_BIN is not executable" >&2; exit 1; }
    opsbox=("$OPSBOX_BIN")
    return
  fi
  if candidate=$(command -v opsbox); then
    opsbox=("$candidate")
    return
  fi
  for candidate in "$ROOT/target/release/opsbox" "$ROOT/target/debug/opsbox"; do
    if [[ -x "$candidate" ]]; then
      opsbox=("$candidate")
      return
    fi
  done
  command -v cargo >/dev/null 2>&1 || { echo "smoke: no opsbox binary and no cargo to build one" >&2; exit 1; }
  opsbox=(cargo run --quiet --release --manifest-path "$ROOT/Cargo.toml" -p opsbox --bin opsbox --)
}

opsbox=()
find_opsbox
exec "${opsbox[@]}" smoke "${args[@]}"
