#!/usr/bin/env bash
# The demo: the local environment with a light background load, shown live in
# the console. Quitting (q, or Ctrl-C) stops the load and, unless KEEP=1, the
# environment.
# Usage: scripts/demo.sh   (env: KEEP=1, DEMO_PORT=8080, BIN_DIR=target/release)
set -euo pipefail

usage() {
  echo "usage: $0   (run 'make demo' to build first; KEEP=1 leaves the stack running)" >&2
  exit 2
}
[[ $# -eq 0 ]] || usage

bin=${BIN_DIR:-target/release}
port=${DEMO_PORT:-8080}
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

main() {
  "$bin/opsbox" up --port "$port"
  trap finish EXIT INT TERM
  # Ten requests a second through the router (create, run, read; every task
  # kind). A healthy baseline: about 0.2% of jobs fail (one `fail` task in a
  # thousand, 1% of the `flaky` ones), which keeps jobs-success (99.5%)
  # burning near 0.4x, so a drill or a bad canary is what makes an alert fire;
  # the retries and a dead letter now and then still show. It ends by itself
  # after a day, or when the demo quits.
  "$bin/opsbox" load --rps 10 --for 24h --kinds io=800,cpu=100,flaky=99,fail=1 \
    --quiet >/dev/null 2>&1 &
  load_pid=$!
  if [[ -t 0 && -t 1 ]]; then
    # The console: q quits (and then the load and, unless KEEP=1, the stack stop).
    "$bin/opsbox"
  else
    # No terminal to draw on (piped, or a CI log): the plain refreshing table.
    "$bin/opsbox" status --watch
  fi
}

main "$@"
