#!/usr/bin/env bash
# Signs and verifies release files (binaries, SBOMs) with cosign and a key
# pair, offline: no transparency log, no OIDC. This is what `make test` proves
# and what an air-gapped release can use; GitHub releases sign keyless instead
# (.github/workflows/release.yml).
#
# Usage: scripts/sign.sh COMMAND [ARGS]
#   keygen DIR                      a new key pair: DIR/cosign.key, DIR/cosign.pub
#                                   (the key's password: $COSIGN_PASSWORD)
#   sign --key KEY FILE...          FILE.sig next to each file
#   verify --key PUB FILE...        each FILE against FILE.sig; exit 1 if any fails
# Tool: cosign from `scripts/deps.sh tools` (target/tools/bin).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PATH=$ROOT/target/tools/bin:$PATH

die() {
  echo "sign: $*" >&2
  exit 1
}

cmd_keygen() {
  local dir=$1
  [[ -n "${COSIGN_PASSWORD+set}" ]] || die "set COSIGN_PASSWORD (the private key is encrypted with it)"
  mkdir -p "$dir"
  (cd "$dir" && cosign generate-key-pair >/dev/null 2>&1) || die "cosign generate-key-pair failed in $dir"
  echo "sign: key pair in $dir (cosign.key, cosign.pub)"
}

# $1: --key, $2: the key; sets KEY and leaves the files in FILES.
parse_key_and_files() {
  [[ $# -ge 3 && "$1" == --key ]] || usage
  KEY=$2
  shift 2
  FILES=("$@")
  [[ -f "$KEY" ]] || die "no key file: $KEY"
}

cmd_sign() {
  parse_key_and_files "$@"
  local file
  for file in "${FILES[@]}"; do
    [[ -f "$file" ]] || die "no such file: $file"
    cosign sign-blob --yes --key "$KEY" --tlog-upload=false --output-signature "$file.sig" "$file" >/dev/null 2>&1 ||
      die "signing $file failed"
    echo "signed: $file -> $file.sig"
  done
}

cmd_verify() {
  parse_key_and_files "$@"
  local file bad=0
  for file in "${FILES[@]}"; do
    if [[ -f "$file.sig" ]] &&
      cosign verify-blob --key "$KEY" --insecure-ignore-tlog=true --signature "$file.sig" "$file" >/dev/null 2>&1; then
      echo "verified: $file"
    else
      echo "FAILED verification: $file" >&2
      bad=1
    fi
  done
  return "$bad"
}

main() {
  [[ $# -ge 1 ]] || usage
  command -v cosign >/dev/null 2>&1 || [[ "$1" == -h || "$1" == --help ]] ||
    die "cosign is not installed (scripts/deps.sh tools)"
  local command=$1
  shift
  case "$command" in
    keygen) [[ $# -eq 1 ]] || usage; cmd_keygen "$1" ;;
    sign) cmd_sign "$@" ;;
    verify) cmd_verify "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
