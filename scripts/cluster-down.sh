#!/usr/bin/env bash
# Stops what scripts/cluster-up.sh started: the kind cluster, the simulated
# control plane, or (by default) whichever of the two is up.
#
# Usage: scripts/cluster-down.sh [--kind|--sim] [--name NAME]
#   --kind       delete the kind cluster NAME (default opsbox)
#   --sim        stop the simulated control plane (scripts/cluster.sh down)
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PATH=$ROOT/target/tools/bin:$PATH

log() { echo "cluster-down: $*" >&2; }

kind_cluster_exists() {
  command -v kind >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 &&
    docker info >/dev/null 2>&1 && kind get clusters 2>/dev/null | grep -qx "$1"
}

kind_down() {
  command -v kind >/dev/null 2>&1 || { log "kind is not installed: no kind cluster to delete"; exit 1; }
  docker info >/dev/null 2>&1 || { log "no Docker daemon answers: kind cannot run here, nothing to delete"; exit 1; }
  kind delete cluster --name "$1"
}

main() {
  local mode=auto name=opsbox
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --kind) mode=kind; shift ;;
      --sim) mode=sim; shift ;;
      --name) name=${2:?}; shift 2 ;;
      -h | --help) usage ;;
      *) usage ;;
    esac
  done
  case "$mode" in
    kind) kind_down "$name" ;;
    sim) "$ROOT/scripts/cluster.sh" down ;;
    auto)
      if kind_cluster_exists "$name"; then kind_down "$name"; fi
      "$ROOT/scripts/cluster.sh" down
      ;;
  esac
}

main "$@"
