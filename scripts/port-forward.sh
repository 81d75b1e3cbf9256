#!/usr/bin/env bash
# Forwards a Service of the cluster to 127.0.0.1 (never another address), in
# the foreground or in the background with a pid file, and waits until the
# local port answers.
#
# Usage: scripts/port-forward.sh [--namespace NS] [--service SVC] [--port LOCAL[:REMOTE]]
#                                [--background | --stop]
#   defaults: namespace opsbox, service opsbox-api, port 8080:80 (the chart's Service port)
#   --background  detach, wait up to 30 s for the port, pid in target/port-forward/
#   --stop        stop the background forward of that service
# The simulated control plane (scripts/cluster.sh) runs no container, so there
# is nothing to forward to there: this is for kind or a real cluster.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PATH=$ROOT/target/tools/bin:$ROOT/target/cluster/bin:$PATH
RUN_DIR=$ROOT/target/port-forward

log() { echo "port-forward: $*" >&2; }
die() {
  log "$*"
  exit 1
}

port_answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

main() {
  local namespace=opsbox service=opsbox-api ports=8080:80 mode=foreground
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --namespace | -n) namespace=${2:?}; shift 2 ;;
      --service) service=${2:?}; shift 2 ;;
      --port) ports=${2:?}; shift 2 ;;
      --background) mode=background; shift ;;
      --stop) mode=stop; shift ;;
      -h | --help) usage ;;
      *) usage ;;
    esac
  done
  [[ "$ports" == *:* ]] || ports=$ports:80
  local local_port=${ports%%:*} pid_file=$RUN_DIR/$namespace-$service.pid
  [[ "$local_port" =~ ^[0-9]+$ ]] || usage
  if [[ $mode == stop ]]; then
    [[ -f "$pid_file" ]] || die "no background forward of $namespace/$service"
    kill "$(cat "$pid_file")" 2>/dev/null || true
    rm -f "$pid_file"
    log "stopped $namespace/$service"
    return
  fi
  command -v kubectl >/dev/null 2>&1 || die "kubectl is not installed (scripts/bootstrap.sh --tools-only)"
  kubectl get --namespace "$namespace" "service/$service" >/dev/null ||
    die "no service $namespace/$service in the current context ($(kubectl config current-context 2>/dev/null || echo none))"
  local -a forward=(kubectl port-forward --address 127.0.0.1 --namespace "$namespace" "service/$service" "$ports")
  if [[ $mode == foreground ]]; then
    exec "${forward[@]}"
  fi
  mkdir -p "$RUN_DIR"
  "${forward[@]}" >"$RUN_DIR/$namespace-$service.log" 2>&1 &
  echo $! >"$pid_file"
  local _
  for _ in $(seq 1 150); do
    if port_answers "$local_port"; then
      log "$namespace/$service on http://127.0.0.1:$local_port (pid $(cat "$pid_file"); --stop ends it)"
      return
    fi
    kill -0 "$(cat "$pid_file")" 2>/dev/null || break
    sleep 0.2
  done
  cat "$RUN_DIR/$namespace-$service.log" >&2 || true
  kill "$(cat "$pid_file")" 2>/dev/null || true
  rm -f "$pid_file"
  die "127.0.0.1:$local_port does not answer (a pod must be Running behind $service; the simulated plane has none that serve)"
}

main "$@"
