#!/usr/bin/env bash
# The demo: the local environment with a light background load, shown live.
# Quitting (Ctrl-C) stops the load and, unless KEEP=1, the environment.
# Usage: scripts/demo.sh   (env: KEEP=1, DEMO_PORT=8080, BIN_DIR=target/release)
set -euo pipefail

usage() {
  echo "usage: $0   (run 'make demo' to build first; KEEP=1 leaves the stack running)" >&2
  exit 2
}
[[ $# -eq 0 ]] || usage

bin=${BIN_DIR:-target/release}
port=${DEMO_PORT:-8080}
router=http://127.0.0.1:$port
load_pid=

finish() {
  trap - EXIT INT TERM
  if [[ -n "$load_pid" ]]; then
    kill "$load_pid" 2>/dev/null || true
    wait "$load_pid" 2>/dev/null || true
  fi
  if [[ "${KEEP:-0}" == 1 ]]; then
    echo "the environment keeps running; stop it with: $bin/opsbox down" >&2
  else
    "$bin/opsbox" down
  fi
}

# A few tasks a second through the router, of every kind, so that the queue,
# the retries and the dead letter have something to show. Until `opsbox load`
# exists, curl is the load generator.
background_load() {
  local kinds=(io io io cpu flaky fail) i=0 id
  while true; do
    local kind=${kinds[i % ${#kinds[@]}]}
    id=$(curl -fs -m 2 "$router/tasks" -H 'content-type: application/json' \
      -d "{\"title\":\"demo $i\",\"kind\":\"$kind\",\"payload\":{\"ms\":200,\"p\":0.3}}" |
      sed -n 's/.*"id":"\([^"]*\)".*/\1/p') || true
    if [[ -n "$id" ]]; then
      curl -fs -m 2 -X POST -o /dev/null "$router/tasks/$id/run" || true
    fi
    i=$((i + 1))
    sleep 0.3
  done
}

main() {
  "$bin/opsbox" up --port "$port"
  trap finish EXIT INT TERM
  background_load >/dev/null 2>&1 &
  load_pid=$!
  "$bin/opsbox" status --watch
}

main "$@"
