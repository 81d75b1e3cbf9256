#!/usr/bin/env bash
# Fails when a GitHub Actions `uses:` names a third-party action by a tag or a
# branch instead of a full commit SHA. A tag can be moved to other code after
# review; a 40-hex commit cannot. Each SHA pin must carry its release as a
# trailing comment (`# vX.Y.Z`) so that people and Dependabot can read it.
#
# Usage: scripts/check-action-pins.sh [FILE|DIR]...   (default: .github)
#   Allowed: ./local/action, docker://image@sha256:<64 hex>,
#            owner/repo[/path]@<40 hex>  # vX[.Y[.Z]]
# Exit: 0 all pinned, 1 a finding (each printed as file:line: reason), 2 usage.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# The workflow and action files under the given paths.
workflow_files() {
  local path
  for path in "$@"; do
    if [[ -d "$path" ]]; then
      find "$path" -type f \( -name '*.yml' -o -name '*.yaml' \) | sort
    elif [[ -f "$path" ]]; then
      echo "$path"
    else
      echo "check-action-pins: no such file or directory: $path" >&2
      exit 2
    fi
  done
}

# Prints one finding per badly pinned `uses:` of one file; returns 1 if any.
check_file() {
  local file=$1 line_no=0 line ref target comment status=0
  local re_uses='^[[:space:]]*(-[[:space:]]+)?uses:[[:space:]]*["'\'']?([^"'\''#[:space:]]+)["'\'']?[[:space:]]*(#.*)?$'
  while IFS= read -r line || [[ -n "$line" ]]; do
    line_no=$((line_no + 1))
    [[ "$line" =~ $re_uses ]] || continue
    target=${BASH_REMATCH[2]}
    comment=${BASH_REMATCH[3]:-}
    case "$target" in
      ./*) continue ;;
      docker://*@sha256:*)
        [[ "$target" =~ @sha256:[0-9a-f]{64}$ ]] && continue
        echo "$file:$line_no: $target: a docker image needs a full sha256 digest"
        status=1
        continue
        ;;
      docker://*)
        echo "$file:$line_no: $target: a docker image must be pinned by digest (@sha256:...)"
        status=1
        continue
        ;;
    esac
    if [[ "$target" != *@* ]]; then
      echo "$file:$line_no: $target: no ref at all (pin a full commit SHA)"
      status=1
      continue
    fi
    ref=${target##*@}
    if [[ ! "$ref" =~ ^[0-9a-f]{40}$ ]]; then
      echo "$file:$line_no: $target: '$ref' is a tag or branch, not a full commit SHA"
      status=1
      continue
    fi
    if [[ ! "$comment" =~ ^#[[:space:]]*v[0-9]+(\.[0-9]+){0,2}([-+.][0-9A-Za-z.]+)?[[:space:]]*$ ]]; then
      echo "$file:$line_no: $target: a SHA pin needs its release as a comment (# vX.Y.Z)"
      status=1
    fi
  done <"$file"
  return "$status"
}

main() {
  case "${1:-}" in -h | --help) usage ;; esac
  local -a paths=("$@") files
  [[ ${#paths[@]} -gt 0 ]] || paths=(.github)
  mapfile -t files < <(workflow_files "${paths[@]}")
  if [[ ${#files[@]} -eq 0 ]]; then
    echo "check-action-pins: no workflow files under ${paths[*]}" >&2
    exit 1
  fi
  local file status=0 count=0
  for file in "${files[@]}"; do
    check_file "$file" || status=1
    count=$((count + 1))
  done
  if [[ $status -eq 0 ]]; then
    echo "check-action-pins: every uses: in $count file(s) is pinned by commit SHA"
  fi
  return "$status"
}

main "$@"
