#!/usr/bin/env bash
# The CI/CD pipeline's stages in order, on this machine: stops at the first
# red stage and prints every stage's time. What only GitHub can run (images on
# a Docker daemon, Trivy, keyless signing, kind, ZAP, the GitOps PRs) is listed
# at the end with where it runs; docs/pipeline.md maps the stages to the jobs.
#
# Usage: scripts/pipeline_local.sh [--list] [--only S1,S2] [--skip S1,S2] [--images]
#   stages: lint test build images sbom secrets sign verify
#   images runs only with --images (or --only images): it needs a Docker
#   daemon, and fails without one
# A run signs with a key pair made for it (target/pipeline/keys), then verifies.
# The SBOM of the previous run is kept, and the delta printed (sbom stage).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PATH=$ROOT/target/tools/bin:$PATH
OUT=$ROOT/target/pipeline
STAGES=(lint test build images sbom secrets sign verify)
RELEASE_BINARIES=(opsbox opsbox-api opsbox-worker)

stage_lint() { make -C "$ROOT" --no-print-directory lint; }

stage_test() { make -C "$ROOT" --no-print-directory test; }

stage_build() {
  (cd "$ROOT" && nice -n 10 cargo build --release --locked --bins -p opsbox -p opsbox-api -p opsbox-worker)
}

stage_sbom() {
  if [[ -d "$OUT/sbom" ]]; then
    rm -rf "$OUT/sbom.previous"
    mv "$OUT/sbom" "$OUT/sbom.previous"
  fi
  "$ROOT/scripts/sbom.sh" generate --out "$OUT/sbom"
  local file
  if [[ -d "$OUT/sbom.previous" ]]; then
    for file in "$OUT"/sbom/*-bin.cdx.json; do
      [[ -f "$OUT/sbom.previous/$(basename "$file")" ]] || continue
      echo "SBOM delta of $(basename "$file" .cdx.json) since the previous run:"
      "$ROOT/scripts/sbom.sh" diff "$OUT/sbom.previous/$(basename "$file")" "$file" | sed 's/^/  /'
    done
  fi
}

stage_secrets() {
  gitleaks git --no-banner --no-color --redact --log-level error "$ROOT"
  echo "gitleaks: no leak in $(git -C "$ROOT" rev-list --all | wc -l) commits"
  "$ROOT/scripts/secrets.sh" check
}

# The release binaries (the build stage's, or an earlier release build's when
# that stage is skipped) and the SBOMs of the sbom stage.
signed_files() {
  local name found=0
  for name in "${RELEASE_BINARIES[@]}"; do
    [[ -x "$ROOT/target/release/$name" ]] || continue
    echo "$ROOT/target/release/$name"
    found=1
  done
  [[ $found -eq 1 ]] || { echo "sign: no release binary in target/release (the build stage makes them)" >&2; return 1; }
  ls "$OUT"/sbom/*.cdx.json
}

stage_sign() {
  local -a files
  local list
  list=$(signed_files) || return 1
  mapfile -t files <<<"$list"
  rm -rf "$OUT/keys" "$OUT/signed"
  mkdir -p "$OUT/signed"
  cp "${files[@]}" "$OUT/signed/"
  COSIGN_PASSWORD=${COSIGN_PASSWORD:-pipeline-local-$RANDOM$RANDOM}
  export COSIGN_PASSWORD
  "$ROOT/scripts/sign.sh" keygen "$OUT/keys"
  "$ROOT/scripts/sign.sh" sign --key "$OUT/keys/cosign.key" "$OUT"/signed/* | tail -n 1
  echo "signed $(find "$OUT/signed" -name '*.sig' | wc -l) file(s) in $OUT/signed"
}

stage_verify() {
  local -a files
  mapfile -t files < <(find "$OUT/signed" -type f ! -name '*.sig' | sort)
  "$ROOT/scripts/sign.sh" verify --key "$OUT/keys/cosign.pub" "${files[@]}" | tail -n 1
  echo "verified ${#files[@]} file(s)"
}

stage_images() {
  if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    echo "images: no Docker daemon answers here (docker info failed); images are built by release.yml" >&2
    return 1
  fi
  (cd "$ROOT" && cargo run --quiet -p opsbox -- build)
}

in_list() {
  local item=$1 list=$2
  [[ ",$list," == *",$item,"* ]]
}

main() {
  local only="" skip="" images=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --list) printf '%s\n' "${STAGES[@]}"; return ;;
      --only) only=${2:?}; shift 2 ;;
      --skip) skip=${2:?}; shift 2 ;;
      --images) images=1; shift ;;
      -h | --help) usage ;;
      *) usage ;;
    esac
  done
  local -a run=() stage
  for stage in "${STAGES[@]}"; do
    [[ -z "$only" ]] || in_list "$stage" "$only" || continue
    [[ -z "$skip" ]] || ! in_list "$stage" "$skip" || continue
    [[ $stage != images || $images -eq 1 ]] || in_list images "$only" || continue
    run+=("$stage")
  done
  [[ ${#run[@]} -gt 0 ]] || usage
  mkdir -p "$OUT"
  local -a report=()
  local start total=$SECONDS status
  for stage in "${run[@]}"; do
    echo "==> $stage"
    start=$SECONDS
    # A subshell with errexit: any failing command inside a stage fails it.
    set +e
    (
      set -e
      "stage_$stage"
    )
    status=$?
    set -e
    if [[ $status -ne 0 ]]; then
      report+=("$(printf '%-8s FAILED %5d s' "$stage" $((SECONDS - start)))")
      printf '%s\n' "${report[@]}"
      echo "pipeline: stopped at $stage (exit $status)" >&2
      exit 1
    fi
    report+=("$(printf '%-8s ok     %5d s' "$stage" $((SECONDS - start)))")
    echo "<== $stage: $((SECONDS - start)) s"
  done
  echo
  echo "stage    result  time"
  printf '%s\n' "${report[@]}"
  echo "pipeline: ${#run[@]} stage(s) green in $((SECONDS - total)) s"
  echo "GitHub only: images (buildx, GHCR), Trivy, keyless cosign + attestations, kind deploy + smoke, ZAP, GitOps PRs (release.yml, deploy.yml)"
}

main "$@"
