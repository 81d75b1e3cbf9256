#!/usr/bin/env bash
# Starts a Kubernetes cluster for OpsBox on this machine: kind when a Docker
# daemon answers, otherwise the simulated control plane of the cluster tier
# (scripts/cluster.sh: real API server and controllers, fake kubelets, no
# container runs). Everything listens on 127.0.0.1.
#
# Usage: scripts/cluster-up.sh [--kind|--sim] [--name NAME] [--load IMAGE]...
#   --kind        kind only; fails, saying why, when Docker cannot run it
#   --sim         the simulated control plane only
#   --name NAME   kind cluster name (default opsbox)
#   --load IMAGE  kind: `kind load docker-image IMAGE` (repeatable); the
#                 simulated plane pulls nothing, so it ignores them
# After `up`: kind sets the kubectl context kind-NAME; for the simulated plane
# run  eval "$(scripts/cluster.sh env)".
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PATH=$ROOT/target/tools/bin:$PATH

log() { echo "cluster-up: $*" >&2; }
die() {
  log "$*"
  exit 1
}

docker_works() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

kind_up() {
  local name=$1
  shift
  docker_works || die "kind needs a Docker daemon and none answers here (docker info failed); use --sim for the simulated control plane"
  command -v kind >/dev/null 2>&1 || die "kind is not installed: scripts/bootstrap.sh --tools-only installs it"
  if kind get clusters 2>/dev/null | grep -qx "$name"; then
    log "kind cluster $name is already up"
  else
    # The API server on loopback only.
    kind create cluster --name "$name" --wait 120s --config - <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  apiServerAddress: "127.0.0.1"
KIND
  fi
  local image
  for image in "$@"; do
    kind load docker-image --name "$name" "$image"
  done
  kubectl --context "kind-$name" get nodes
}

sim_up() {
  if [[ $# -gt 0 ]]; then
    log "the simulated control plane runs no container: --load ignored ($*)"
  fi
  "$ROOT/scripts/cluster.sh" up
  log "simulated control plane up; for kubectl: eval \"\$(scripts/cluster.sh env)\""
}

main() {
  local mode=auto name=opsbox
  local -a images=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --kind) mode=kind; shift ;;
      --sim) mode=sim; shift ;;
      --name) name=${2:?}; shift 2 ;;
      --load) images+=("${2:?}"); shift 2 ;;
      -h | --help) usage ;;
      *) usage ;;
    esac
  done
  if [[ $mode == auto ]]; then
    if docker_works; then mode=kind; else
      log "no Docker daemon here: starting the simulated control plane instead of kind"
      mode=sim
    fi
  fi
  case "$mode" in
    kind) kind_up "$name" "${images[@]}" ;;
    sim) sim_up "${images[@]}" ;;
  esac
}

main "$@"
