#!/usr/bin/env bash
# What a student needs for the Kubernetes side of OpsBox: kind, kubectl, helm
# and the Argo Rollouts kubectl plugin, with their versions checked; then a kind
# cluster with the OpsBox images loaded.
#
# Usage: scripts/bootstrap.sh [--tools-only] [--build] [--without-argo] [--images TAG]
#   --tools-only  install and check the tools; start nothing
#   --build       build kubectl, helm and the plugin from their Go modules when
#                 missing (scripts/cluster-build.sh: long, once; cached in target/)
#   --without-argo  leave out the Argo Rollouts plugin (the chart's Deployment
#                 variant, as in .github/workflows/deploy.yml)
#   --images TAG  load ghcr.io/opsbox/opsbox-{api,worker}:TAG into kind
#                 (built first with `opsbox build`)
# Every tool comes from the Go module proxy (versions: testenv/versions.env):
# kind by `go install` into target/tools/bin, the others from the cluster
# tier's build (target/cluster/bin) when there is one, else from PATH.
# kind needs a Docker daemon: without one this says so and exits 1
# (scripts/cluster-up.sh --sim starts the simulated control plane instead).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
source "$ROOT/testenv/versions.env"
TOOLS_BIN=$ROOT/target/tools/bin
# The pinned builds first, when they exist; then whatever the user has.
PATH=$TOOLS_BIN:$ROOT/target/cluster/bin:$PATH

WITH_ARGO=1

log() { echo "bootstrap: $*" >&2; }
die() {
  log "$*"
  exit 1
}

install_kind() {
  command -v kind >/dev/null 2>&1 && return
  command -v go >/dev/null 2>&1 || die "kind is missing and Go is not on PATH to build it"
  log "building kind $KIND_VERSION (go install, about a minute)"
  mkdir -p "$TOOLS_BIN"
  GOBIN=$TOOLS_BIN GOTOOLCHAIN=local GOFLAGS=-p=1 CGO_ENABLED=0 \
    nice -n 19 go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@$KIND_VERSION"
}

# Minor version of a "vX.Y.Z" string.
minor_of() {
  local v=${1#v}
  v=${v#*.}
  echo "${v%%.*}"
}

check_versions() {
  local bad=0 kubectl_version k8s_minor minor
  k8s_minor=$(minor_of "$KUBERNETES_VERSION")
  printf '  %-24s %s\n' kind "$(kind version 2>/dev/null || echo missing)"
  kubectl_version=$(kubectl version --client -o json 2>/dev/null | jq -r .clientVersion.gitVersion || echo missing)
  printf '  %-24s %s\n' kubectl "$kubectl_version"
  if [[ "$kubectl_version" == v1.* ]]; then
    minor=$(minor_of "$kubectl_version")
    # kubectl supports one minor version of skew either way.
    if ((minor < k8s_minor - 1 || minor > k8s_minor + 1)); then
      log "kubectl $kubectl_version is more than one minor away from Kubernetes $KUBERNETES_VERSION"
      bad=1
    fi
  else
    bad=1
  fi
  printf '  %-24s %s\n' helm "$(helm version --short 2>/dev/null || echo missing)"
  helm version --short 2>/dev/null | grep -Eq '^v[34]\.' || bad=1
  if [[ $WITH_ARGO -eq 1 ]]; then
    printf '  %-24s %s\n' kubectl-argo-rollouts "$(kubectl-argo-rollouts version --short 2>/dev/null || echo missing)"
    command -v kubectl-argo-rollouts >/dev/null 2>&1 || bad=1
  fi
  return "$bad"
}

main() {
  local tools_only=0 build=0 tag=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --tools-only) tools_only=1; shift ;;
      --build) build=1; shift ;;
      --without-argo) WITH_ARGO=0; shift ;;
      --images) tag=${2:?}; shift 2 ;;
      -h | --help) usage ;;
      *) usage ;;
    esac
  done
  install_kind
  if ! command -v kubectl >/dev/null || ! command -v helm >/dev/null ||
    { [[ $WITH_ARGO -eq 1 ]] && ! command -v kubectl-argo-rollouts >/dev/null; }; then
    if [[ $build -eq 1 ]]; then
      "$ROOT/scripts/cluster-build.sh" build
    else
      log "kubectl, helm or kubectl-argo-rollouts is missing: rerun with --build (builds them from Go modules, long, once)"
    fi
  fi
  log "tools:"
  check_versions || die "a tool is missing or at a version that does not fit (above)"
  [[ $tools_only -eq 0 ]] || return 0
  local -a load=()
  if [[ -n "$tag" ]]; then
    load=(--load "ghcr.io/opsbox/opsbox-api:$tag" --load "ghcr.io/opsbox/opsbox-worker:$tag")
  fi
  "$ROOT/scripts/cluster-up.sh" --kind "${load[@]}"
}

main "$@"
