#!/usr/bin/env bash
# The supply-chain tests of `make test`: action pins, secrets scan (the history
# clean, a planted credential caught), sops + age (round trip, committed files
# encrypted, a plaintext one refused), cosign blob signatures (a tampered file
# and a wrong key refused), SBOMs (the workspace's, and the diff of two).
#
# Usage: scripts/test-supply-chain.sh [-h] [TEST...]   (default: every test)
#   A test whose tool is missing prints SKIP; OPSBOX_REQUIRE_TOOLS=1 (CI) makes
#   that a failure. The last line counts: "supply-chain: N passed, N failed, N skipped".
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  echo "tests: ${TESTS[*]}" >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
PATH=$ROOT/target/tools/bin:$PATH
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/opsbox-supply-chain.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

TESTS=(action_pins_of_the_workflows action_pins_catch_tags gitleaks_history_clean
  gitleaks_catches_a_planted_credential sops_round_trip sops_committed_files_encrypted
  sops_check_refuses_plaintext cosign_sign_verify_tamper sbom_diff sbom_of_the_workspace
  gitops_promote_sets_one_tag)

passed=0 failed=0 skipped=0

# Exit status 77 from a test means "a tool is missing".
SKIP=77
require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 && continue
    [[ "$tool" == cargo-* ]] && cargo "${tool#cargo-}" --version >/dev/null 2>&1 && continue
    echo "    missing tool: $tool (scripts/deps.sh tools)"
    return "$SKIP"
  done
}

# Each test runs in a subshell with errexit on: fail ends it.
# N random bytes as 2N hex digits (od reads exactly N: no SIGPIPE under pipefail).
random_hex() {
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

fail() {
  echo "    $*"
  exit 1
}

# A git repository in the scratch dir, with one commit of the given files.
scratch_repo() {
  local dir=$1
  git init -q "$dir"
  git -C "$dir" config user.email test@opsbox.invalid
  git -C "$dir" config user.name opsbox-test
}

commit_all() {
  git -C "$1" add -A
  git -C "$1" commit -q -m "$2"
}

# ---- action pins -------------------------------------------------------------

test_action_pins_of_the_workflows() {
  "$ROOT/scripts/check-action-pins.sh" "$ROOT/.github" >/dev/null || fail "a workflow has a badly pinned uses:"
}

test_action_pins_catch_tags() {
  local dir=$SCRATCH/pins out sha=0123456789abcdef0123456789abcdef01234567
  mkdir -p "$dir"
  cat >"$dir/good.yml" <<EOF
jobs:
  a:
    steps:
      - uses: actions/checkout@$sha # v7.0.1
      - uses: ./.github/actions/local
      - uses: "docker://alpine@sha256:$sha${sha:0:24}"
EOF
  "$ROOT/scripts/check-action-pins.sh" "$dir/good.yml" >/dev/null || fail "a SHA-pinned file was refused"
  local -a bad=(
    "actions/checkout@v4"
    "actions/checkout@main"
    "actions/checkout@${sha:0:7} # v7.0.1"
    "actions/checkout@$sha"
    "docker://alpine:3.20"
    "org/repo/path@v1.2.3 # v1.2.3"
  )
  local case_ line
  for case_ in "${bad[@]}"; do
    printf 'jobs:\n  a:\n    steps:\n      - name: x\n        uses: %s\n' "$case_" >"$dir/bad.yml"
    if out=$("$ROOT/scripts/check-action-pins.sh" "$dir/bad.yml"); then
      fail "not caught: uses: $case_"
    fi
    line=${out%%:*}
    [[ "$out" == "$dir/bad.yml:5: "* ]] || fail "caught without file:line ($line): $out"
  done
}

# ---- secrets scan ------------------------------------------------------------

test_gitleaks_history_clean() {
  require gitleaks || return
  local report=$SCRATCH/gitleaks-history.json
  [[ "$(git -C "$ROOT" rev-parse --is-shallow-repository)" == false ]] || fail "shallow clone: the whole history is not there"
  gitleaks git --no-banner --redact --report-format json --report-path "$report" "$ROOT" >/dev/null 2>&1 || {
    jq -r '.[] | "    \(.RuleID) \(.File):\(.StartLine) \(.Commit[0:12])"' "$report" 2>/dev/null
    fail "gitleaks found secrets in the history"
  }
}

test_gitleaks_catches_a_planted_credential() {
  require gitleaks || return
  local dir=$SCRATCH/leaky report=$SCRATCH/gitleaks-planted.json token
  scratch_repo "$dir"
  echo "nothing to see" >"$dir/README"
  commit_all "$dir" clean
  gitleaks git --no-banner "$dir" >/dev/null 2>&1 || fail "a clean scratch repository was flagged"
  # A GitHub token of the right shape, made here so that it is in no file of
  # this repository; random, so no real account has it.
  token=ghp_$(random_hex 18)
  printf 'github:\n  token: %s\n' "$token" >"$dir/config.yaml"
  commit_all "$dir" "add config"
  # Removed again: the history still has it, and gitleaks reads the history.
  git -C "$dir" rm -q config.yaml
  commit_all "$dir" "remove config"
  if gitleaks git --no-banner --report-format json --report-path "$report" "$dir" >/dev/null 2>&1; then
    fail "the planted token was not caught"
  fi
  jq -e '[.[] | select(.RuleID == "github-pat" and .File == "config.yaml")] | length == 1' "$report" >/dev/null ||
    fail "gitleaks failed, but not with one github-pat finding in config.yaml: $(jq -c '[.[] | .RuleID]' "$report")"
}

# ---- sops + age --------------------------------------------------------------

# A scratch repository with the real rules of .sops.yaml, but encrypting to a
# key made for the test (the real recipients' private keys are not here).
sops_scratch() {
  local dir=$1 recipient
  scratch_repo "$dir"
  age-keygen -o "$dir.key" 2>/dev/null
  recipient=$(age-keygen -y "$dir.key")
  sed -E "s/age1[0-9a-z]{58}/$recipient/g" "$ROOT/.sops.yaml" >"$dir/.sops.yaml"
  grep -q "$recipient" "$dir/.sops.yaml" || fail "no age recipient to replace in .sops.yaml"
}

a_secret_manifest() {
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: probe\ntype: Opaque\nstringData:\n  PROBE_VALUE: %s\n' "$1"
}

test_sops_round_trip() {
  require sops age age-keygen || return
  local dir=$SCRATCH/sops value file=deploy/secrets/probe.enc.yaml out
  sops_scratch "$dir" || return 1
  value=probe-$(random_hex 12)
  mkdir -p "$dir/deploy/secrets"
  a_secret_manifest "$value" >"$dir/$file"
  OPSBOX_SOPS_RULES=$dir/.sops.yaml "$ROOT/scripts/secrets.sh" encrypt "$dir/$file" ||
    fail "encrypt failed"
  ! grep -q "$value" "$dir/$file" || fail "the value is still in clear after encryption"
  grep -Eq '^[[:space:]]+name: probe$' "$dir/$file" || fail "metadata should stay readable (encrypted_regex)"
  out=$(SOPS_AGE_KEY_FILE=$dir.key OPSBOX_SOPS_RULES=$dir/.sops.yaml "$ROOT/scripts/secrets.sh" decrypt "$dir/$file") ||
    fail "decrypt failed"
  [[ "$out" == *"PROBE_VALUE: $value"* ]] || fail "round trip lost the value: $out"
  # Another key cannot read it.
  age-keygen -o "$dir.other" 2>/dev/null
  if SOPS_AGE_KEY_FILE=$dir.other OPSBOX_SOPS_RULES=$dir/.sops.yaml "$ROOT/scripts/secrets.sh" decrypt "$dir/$file" >/dev/null 2>&1; then
    fail "a key that is not a recipient decrypted the file"
  fi
}

test_sops_committed_files_encrypted() {
  "$ROOT/scripts/secrets.sh" check >/dev/null || fail "a file under a sops rule is committed in clear"
}

test_sops_check_refuses_plaintext() {
  require sops age age-keygen || return
  local dir=$SCRATCH/sops-plain
  sops_scratch "$dir" || return 1
  mkdir -p "$dir/deploy/secrets"
  a_secret_manifest encrypted-one >"$dir/deploy/secrets/a.enc.yaml"
  OPSBOX_SOPS_RULES=$dir/.sops.yaml "$ROOT/scripts/secrets.sh" encrypt "$dir/deploy/secrets/a.enc.yaml"
  commit_all "$dir" "encrypted"
  OPSBOX_SOPS_RULES=$dir/.sops.yaml "$ROOT/scripts/secrets.sh" check >/dev/null 2>&1 ||
    fail "an all-encrypted repository was refused"
  # Plaintext committed under the rules, once as a new file and once as an
  # encrypted file with a value edited back in clear.
  a_secret_manifest in-clear >"$dir/deploy/secrets/b.enc.yaml"
  commit_all "$dir" "plaintext"
  if OPSBOX_SOPS_RULES=$dir/.sops.yaml "$ROOT/scripts/secrets.sh" check >/dev/null 2>&1; then
    fail "a plaintext file under the rules passed the check"
  fi
  git -C "$dir" rm -q deploy/secrets/b.enc.yaml
  sed -i 's/^\([[:space:]]*PROBE_VALUE:\).*/\1 edited-in-clear/' "$dir/deploy/secrets/a.enc.yaml"
  commit_all "$dir" "edited"
  if OPSBOX_SOPS_RULES=$dir/.sops.yaml "$ROOT/scripts/secrets.sh" check >/dev/null 2>&1; then
    fail "a value edited in clear inside an encrypted file passed the check"
  fi
}

# ---- cosign ------------------------------------------------------------------

# A release binary: the release build when there is one, else the debug build
# that `make test` has just made (same signing path, bigger file).
a_binary() {
  local candidate
  for candidate in "$ROOT"/target/release/opsbox-api "$ROOT"/target/debug/opsbox-api "$ROOT"/target/debug/opsbox; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return; }
  done
  return 1
}

test_cosign_sign_verify_tamper() {
  require cosign || return
  local dir=$SCRATCH/cosign binary
  binary=$(a_binary) || fail "no binary of the workspace under target/ (make test builds them first)"
  mkdir -p "$dir/files"
  cp "$binary" "$dir/files/$(basename "$binary")"
  # An SBOM to sign next to it: the synthetic one of sbom_diff is enough here.
  sbom_fixture "$dir/files/opsbox.cdx.json" "tokio 1.40.0"
  export COSIGN_PASSWORD=test-$RANDOM
  "$ROOT/scripts/sign.sh" keygen "$dir/keys" >/dev/null || fail "keygen failed"
  "$ROOT/scripts/sign.sh" sign --key "$dir/keys/cosign.key" "$dir"/files/* >/dev/null || fail "sign failed"
  "$ROOT/scripts/sign.sh" verify --key "$dir/keys/cosign.pub" "$dir/files/$(basename "$binary")" "$dir/files/opsbox.cdx.json" >/dev/null ||
    fail "a freshly signed file did not verify"
  # One flipped byte at the end of the binary, one version changed in the SBOM.
  printf '\0' >>"$dir/files/$(basename "$binary")"
  sed -i 's/1.40.0/1.40.1/' "$dir/files/opsbox.cdx.json"
  local f
  for f in "$dir/files/$(basename "$binary")" "$dir/files/opsbox.cdx.json"; do
    if "$ROOT/scripts/sign.sh" verify --key "$dir/keys/cosign.pub" "$f" >/dev/null 2>&1; then
      fail "a tampered file verified: $f"
    fi
  done
  # The right file with another key's public half.
  "$ROOT/scripts/sign.sh" keygen "$dir/other" >/dev/null
  cp "$binary" "$dir/pristine"
  "$ROOT/scripts/sign.sh" sign --key "$dir/keys/cosign.key" "$dir/pristine" >/dev/null
  if "$ROOT/scripts/sign.sh" verify --key "$dir/other/cosign.pub" "$dir/pristine" >/dev/null 2>&1; then
    fail "a signature verified with another key"
  fi
}

# ---- SBOM --------------------------------------------------------------------

# A minimal CycloneDX document with the given "name version" cargo components.
sbom_fixture() {
  local out=$1
  shift
  printf '%s\n' "$@" | jq -R -s '{
      bomFormat: "CycloneDX", specVersion: "1.5", version: 1,
      metadata: {component: {type: "application", name: "opsbox", version: "0.1.0",
                             purl: "pkg:cargo/opsbox@0.1.0"}},
      components: [split("\n")[] | select(length > 0) | split(" ")
        | {type: "library", name: .[0], version: .[1], purl: "pkg:cargo/\(.[0])@\(.[1])"}]
    }' >"$out"
}

test_sbom_diff() {
  require jq || return
  local old=$SCRATCH/old.cdx.json new=$SCRATCH/new.cdx.json out expected
  sbom_fixture "$old" "axum 0.7.5" "tokio 1.40.0" "syn 1.0.109" "syn 2.0.111" "time 0.3.36"
  sbom_fixture "$new" "axum 0.8.1" "tokio 1.40.0" "syn 2.0.111" "serde 1.0.210" "openssl 0.10.66"
  out=$("$ROOT/scripts/sbom.sh" diff "$old" "$new") || fail "sbom diff failed"
  expected=$(printf '%s\n' \
    "~ axum 0.7.5 -> 0.8.1" \
    "+ openssl 0.10.66" \
    "+ serde 1.0.210" \
    "~ syn 1.0.109 2.0.111 -> 2.0.111" \
    "- time 0.3.36" \
    "sbom-diff: 2 added, 1 removed, 2 changed")
  [[ "$out" == "$expected" ]] || fail "unexpected diff:"$'\n'"$out"$'\n'"    expected:"$'\n'"$expected"
  out=$("$ROOT/scripts/sbom.sh" diff "$new" "$new")
  [[ "$out" == "sbom-diff: 0 added, 0 removed, 0 changed" ]] || fail "an SBOM differs from itself: $out"
  echo '{"not": "an sbom"}' >"$SCRATCH/junk.json"
  local status=0
  "$ROOT/scripts/sbom.sh" diff "$SCRATCH/junk.json" "$new" >/dev/null 2>&1 || status=$?
  [[ $status -eq 2 ]] || fail "a non-SBOM input gave exit $status, not 2"
}

test_sbom_of_the_workspace() {
  require cargo-cyclonedx jq || return
  local out=$SCRATCH/sbom diff
  "$ROOT/scripts/sbom.sh" generate --out "$out" >/dev/null || fail "generate failed"
  local member
  for member in opsbox opsbox-api opsbox-worker; do
    [[ -f "$out/$member.cdx.json" ]] || fail "no SBOM for $member"
    [[ -f "$out/$member-bin.cdx.json" ]] || fail "no binary SBOM for $member"
  done
  jq -e '[.components[] | select(.name == "tokio")] | length >= 1' "$out/opsbox-api.cdx.json" >/dev/null ||
    fail "opsbox-api's SBOM does not list tokio"
  [[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=all -- '*.cdx.json' '*opsbox-sbom-*')" ]] ||
    fail "generate left files in the source tree"
  # The review of a dependency bump: tokio's version changed, nothing else.
  jq '(.components[] | select(.name == "tokio") | .version) |= "99.0.0"' \
    "$out/opsbox-api.cdx.json" >"$SCRATCH/bumped.cdx.json"
  diff=$("$ROOT/scripts/sbom.sh" diff "$out/opsbox-api.cdx.json" "$SCRATCH/bumped.cdx.json")
  [[ "$diff" == *"~ tokio "*" -> 99.0.0"* && "$diff" == *"0 added, 0 removed, 1 changed" ]] ||
    fail "the bump is not the one change: $diff"
}

# ---- GitOps promotion --------------------------------------------------------

test_gitops_promote_sets_one_tag() {
  local dir=$SCRATCH/gitops env out
  scratch_repo "$dir"
  mkdir -p "$dir/charts/opsbox"
  cp "$ROOT"/charts/opsbox/values-{dev,staging,prod}.yaml "$dir/charts/opsbox/"
  commit_all "$dir" values
  for env in dev staging prod; do
    OPSBOX_REPO=$dir "$ROOT/scripts/gitops-promote.sh" --dry-run "$env" git-0123456789ab >/dev/null ||
      fail "promotion of $env failed"
    out=$(git -C "$dir" diff --numstat -- "charts/opsbox/values-$env.yaml")
    [[ "$out" == $'1\t1\t'* ]] || fail "$env: not exactly one line changed: $out"
    git -C "$dir" diff -- "charts/opsbox/values-$env.yaml" | grep -q '^+  tag: "git-0123456789ab"$' ||
      fail "$env: image.tag not set"
  done
  if OPSBOX_REPO=$dir "$ROOT/scripts/gitops-promote.sh" --dry-run prod latest >/dev/null 2>&1; then
    fail "the tag latest was accepted"
  fi
}

# ---- runner ------------------------------------------------------------------

run_test() {
  local name=$1 status=0 start=$SECONDS
  echo "--- $name"
  set +e
  (
    set -e
    "test_$name"
  )
  status=$?
  set -e
  if [[ $status -eq 0 ]]; then
    echo "ok   $name ($((SECONDS - start)) s)"
    passed=$((passed + 1))
  elif [[ $status -eq $SKIP && "${OPSBOX_REQUIRE_TOOLS:-0}" != 1 ]]; then
    echo "SKIP $name"
    skipped=$((skipped + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}

main() {
  local -a selected=("$@")
  case "${1:-}" in -h | --help) usage ;; esac
  [[ ${#selected[@]} -gt 0 ]] || selected=("${TESTS[@]}")
  local name
  for name in "${selected[@]}"; do
    declare -F "test_$name" >/dev/null || usage
    run_test "$name"
  done
  echo "supply-chain: $passed passed, $failed failed, $skipped skipped"
  [[ $failed -eq 0 ]]
}

main "$@"
