#!/usr/bin/env bash
# Software bills of materials (CycloneDX JSON, spec 1.5) of the workspace and
# its binaries, and the review of what changed between two of them.
#
# Usage: scripts/sbom.sh COMMAND [ARGS]
#   generate [--out DIR]   cargo-cyclonedx over the workspace: DIR/<crate>.cdx.json
#                          per member and DIR/<binary>-bin.cdx.json per binary
#                          (default DIR: target/sbom)
#   diff OLD NEW           crates added (+), removed (-) and changed version (~)
#                          from OLD to NEW, then a count line; exit 0 (a review,
#                          not a gate), 2 on unreadable input
# Tools: cargo-cyclonedx (scripts/deps.sh tools), jq.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)

die() {
  echo "sbom: $*" >&2
  exit 1
}

# cargo-cyclonedx writes next to each member's Cargo.toml; the files are moved
# to DIR at once, so the source tree keeps nothing. SOURCE_DATE_EPOCH (the
# commit's time) makes two runs on one commit give the same files.
cmd_generate() {
  local out=$ROOT/target/sbom
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --out) out=${2:?}; shift 2 ;;
      *) usage ;;
    esac
  done
  cargo cyclonedx --version >/dev/null 2>&1 || die "cargo-cyclonedx is not installed (scripts/deps.sh tools)"
  mkdir -p "$out"
  local name=opsbox-sbom-$$ metadata dir crate file file_name count=0
  SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)
  export SOURCE_DATE_EPOCH
  metadata=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps)
  # One SBOM per member (its targets as subcomponents), then one per binary
  # (only what that binary links: <binary>_bin.cdx.json).
  (cd "$ROOT" && cargo cyclonedx --all --format json --spec-version 1.5 -q --override-filename "$name")
  (cd "$ROOT" && cargo cyclonedx --all --format json --spec-version 1.5 -q --describe binaries)
  while IFS=$'\t' read -r crate dir; do
    if [[ -f "$dir/$name.json" ]]; then
      mv "$dir/$name.json" "$out/$crate.cdx.json"
      count=$((count + 1))
    fi
    for file in "$dir"/*_bin.cdx.json; do
      [[ -f "$file" ]] || continue
      file_name=$(basename "$file" _bin.cdx.json)
      mv "$file" "$out/$file_name-bin.cdx.json"
      count=$((count + 1))
    done
  done < <(jq -r '.packages[] | "\(.name)\t\(.manifest_path | sub("/Cargo.toml$"; ""))"' <<<"$metadata")
  [[ $count -gt 0 ]] || die "cargo-cyclonedx wrote no SBOM"
  echo "sbom: $count SBOM(s) in $out"
}

# Every cargo component of an SBOM, "name<TAB>version" a line, sorted and unique.
components() {
  jq -r '[.. | objects | select(has("purl") and (.purl | tostring | startswith("pkg:cargo/")))]
         | map("\(.name)\t\(.version)") | unique | .[]' "$1"
}

cmd_diff() {
  [[ $# -eq 2 ]] || usage
  local old=$1 new=$2 f
  # join and sort must agree on the order.
  export LC_ALL=C
  for f in "$old" "$new"; do
    jq -e '.bomFormat == "CycloneDX"' "$f" >/dev/null 2>&1 || {
      echo "sbom: not a CycloneDX JSON document: $f" >&2
      exit 2
    }
  done
  # Both sides as name -> space-separated versions (a crate can be there twice).
  join -t $'\t' -a 1 -a 2 -e '' -o 0,1.2,2.2 \
    <(components "$old" | awk -F'\t' '{v[$1] = v[$1] ? v[$1] " " $2 : $2} END {for (n in v) print n "\t" v[n]}' | sort) \
    <(components "$new" | awk -F'\t' '{v[$1] = v[$1] ? v[$1] " " $2 : $2} END {for (n in v) print n "\t" v[n]}' | sort) |
    awk -F'\t' '
      $2 == "" { print "+ " $1 " " $3; added++; next }
      $3 == "" { print "- " $1 " " $2; removed++; next }
      $2 != $3 { print "~ " $1 " " $2 " -> " $3; changed++ }
      END { printf "sbom-diff: %d added, %d removed, %d changed\n", added, removed, changed }
    '
}

main() {
  [[ $# -ge 1 ]] || usage
  command -v jq >/dev/null 2>&1 || die "jq is not installed (apt-get install jq)"
  local command=$1
  shift
  case "$command" in
    generate) cmd_generate "$@" ;;
    diff) cmd_diff "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
