#!/usr/bin/env bash
# GitOps promotion: sets image.tag in charts/opsbox/values-ENV.yaml and opens
# a pull request; Argo CD (deploy/argocd/apps/opsbox-ENV.yaml) syncs it once
# merged. Who approves which PR: docs/runbooks/promotion.md.
#
# Usage: scripts/gitops-promote.sh [--dry-run] ENV TAG
#   ENV        dev | staging | prod
#   TAG        git-<hex sha> or a version X.Y.Z (never latest)
#   --dry-run  edit the file and print the diff; no branch, commit or PR
# Needs git; without --dry-run, gh (GH_TOKEN) and a remote to push to.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# OPSBOX_REPO: the checkout to edit (default: this one; the tests use a scratch copy).
ROOT=${OPSBOX_REPO:-$(cd "$(dirname "$0")/.." && pwd)}

die() {
  echo "gitops-promote: $*" >&2
  exit 1
}

# Rewrites the `tag:` of the top-level `image:` map, and nothing else.
set_image_tag() {
  local file=$1 tag=$2 tmp
  tmp=$(mktemp)
  awk -v tag="$tag" '
    /^[^[:space:]#]/ { in_image = ($0 ~ /^image:/) }
    in_image && /^[[:space:]]+tag:/ && !done {
      match($0, /^[[:space:]]+/)
      print substr($0, 1, RLENGTH) "tag: \"" tag "\""
      done = 1
      next
    }
    { print }
    END { if (!done) exit 3 }
  ' "$file" >"$tmp" || { rm -f "$tmp"; die "no image.tag in $file"; }
  cat "$tmp" >"$file"
  rm -f "$tmp"
}

main() {
  local dry_run=0
  [[ "${1:-}" == -h || "${1:-}" == --help ]] && usage
  if [[ "${1:-}" == --dry-run ]]; then dry_run=1; shift; fi
  [[ $# -eq 2 ]] || usage
  local env=$1 tag=$2
  case "$env" in dev | staging | prod) ;; *) usage ;; esac
  [[ "$tag" =~ ^git-[0-9a-f]{7,40}$ || "$tag" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "tag must be git-<sha> or X.Y.Z, not '$tag'"
  local file=charts/opsbox/values-$env.yaml
  [[ -f "$ROOT/$file" ]] || die "no $file"
  set_image_tag "$ROOT/$file" "$tag"
  if git -C "$ROOT" diff --quiet -- "$file"; then
    echo "gitops-promote: $env already runs $tag"
    return
  fi
  git -C "$ROOT" --no-pager diff -- "$file"
  [[ $dry_run -eq 0 ]] || return 0
  command -v gh >/dev/null 2>&1 || die "gh is not installed"
  local branch=promote/$env/$tag
  git -C "$ROOT" checkout -q -b "$branch"
  git -C "$ROOT" -c user.name="opsbox-release" -c user.email="opsbox-release@users.noreply.github.com" \
    commit -q -m "Promote $tag to $env" -- "$file"
  git -C "$ROOT" push -q origin "$branch"
  (cd "$ROOT" && gh pr create --base main --head "$branch" --title "Promote $tag to $env" --body \
"Sets \`image.tag: $tag\` in \`$file\`. Argo CD syncs \`opsbox-$env\` after the merge.

Before approving: the previous environment's rollout is Healthy with its analysis Successful, no SLO is paging (\`opsbox slo\`), and \`opsbox gate\` recorded a go (docs/runbooks/promotion.md).")
}

main "$@"
