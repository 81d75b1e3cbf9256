#!/usr/bin/env bash
# Secrets kept in git only as sops + age ciphertext (rules: .sops.yaml).
#
# Usage: scripts/secrets.sh COMMAND [ARGS]
#   decrypt FILE            print the plaintext of an encrypted file
#   edit FILE               open it decrypted in $EDITOR; re-encrypted on save
#                           (a new FILE matching a rule is created encrypted)
#   encrypt FILE            encrypt a plaintext file in place, by the rules
#   apply FILE [--namespace NS]
#                           decrypt Kubernetes Secrets and `kubectl apply` them
#   check                   fail if any tracked file matched by a rule of
#                           .sops.yaml is not encrypted (every value ENC[...])
#   keygen                  create your age key (if missing) and print its
#                           public key, to add to .sops.yaml as a recipient
#
# The private key: $SOPS_AGE_KEY (the key itself, as in CI), else
# $SOPS_AGE_KEY_FILE, else ~/.config/sops/age/keys.txt. It is never in git:
# a new recipient is added by someone who can decrypt (`sops updatekeys FILE`).
# Tools: sops and age from `scripts/deps.sh tools` (target/tools/bin).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
PATH=$ROOT/target/tools/bin:$PATH:$ROOT/target/cluster/bin
RULES=${OPSBOX_SOPS_RULES:-$ROOT/.sops.yaml}
KEY_FILE_DEFAULT=${XDG_CONFIG_HOME:-$HOME/.config}/sops/age/keys.txt

die() {
  echo "secrets: $*" >&2
  exit 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed (scripts/deps.sh tools)"
}

# The path_regex of every creation rule of .sops.yaml, one a line.
rule_patterns() {
  [[ -f "$RULES" ]] || die "no rules file: $RULES"
  sed -n 's/^[[:space:]-]*path_regex:[[:space:]]*//p' "$RULES" | sed "s/^['\"]//; s/['\"][[:space:]]*$//"
}

# Tracked files (relative to the repository of the rules) that some rule matches.
ruled_files() {
  local dir patterns
  dir=$(dirname "$RULES")
  patterns=$(rule_patterns)
  [[ -n "$patterns" ]] || die "no path_regex in $RULES"
  git -C "$dir" ls-files | grep -E -f <(printf '%s\n' "$patterns") || true
}

# Encrypted means: sops metadata with a MAC, and no plaintext value where sops
# encrypts: everywhere, or with an encrypted_regex (recorded in the file's own
# metadata) under the keys it matches. Empty values are left by sops as they
# are. YAML only: the rules match YAML files.
is_encrypted() {
  local file=$1 regex
  grep -Eq '^[[:space:]]+mac:[[:space:]]*ENC\[AES256_GCM,' "$file" || return 1
  regex=$(sed -n 's/^[[:space:]]*encrypted_regex:[[:space:]]*//p' "$file" | sed "s/^['\"]//; s/['\"]$//")
  awk -v re="$regex" '
    /^sops:/ { in_sops = 1; next }
    /^[^[:space:]#]/ { in_sops = 0 }
    in_sops || /^[[:space:]]*(#|$)/ || /^---/ { next }
    {
      match($0, /^[[:space:]]*(-[[:space:]]+)?/)
      indent = RLENGTH
      line = substr($0, RLENGTH + 1)
      if (guard >= 0 && indent <= guard) guard = -1      # left the matched block
      key = ""; value = line
      if (line ~ /^[^:[:space:]]+:([[:space:]]|$)/) {
        key = line; sub(/:.*/, "", key)
        value = line; sub(/^[^:]+:[[:space:]]*/, "", value)
      }
      selected = (re == "" || guard >= 0 || (key != "" && key ~ re))
      if (key != "" && value == "") {                    # a key that opens a block
        if (re != "" && guard < 0 && key ~ re) guard = indent
        next
      }
      if (!selected || value ~ /^ENC\[/ || value ~ /^(""|\047\047)$/) next
      bad = 1
      print FILENAME ":" NR ": plaintext value" > "/dev/stderr"
    }
    BEGIN { guard = -1 }
    END { exit bad }
  ' "$file"
}

cmd_check() {
  local dir file count=0 bad=0
  dir=$(dirname "$RULES")
  while IFS= read -r file; do
    [[ -n "$file" ]] || continue
    count=$((count + 1))
    if is_encrypted "$dir/$file"; then
      echo "encrypted: $file"
    else
      echo "NOT ENCRYPTED: $file" >&2
      bad=1
    fi
  done < <(ruled_files)
  [[ $count -gt 0 ]] || die "no tracked file matches the rules of $RULES"
  [[ $bad -eq 0 ]] || die "plaintext under a sops rule: encrypt it (scripts/secrets.sh encrypt FILE) before committing"
  echo "secrets: $count file(s) under the rules of $(basename "$RULES"), all encrypted"
}

cmd_keygen() {
  need age-keygen
  if [[ ! -f "$KEY_FILE_DEFAULT" ]]; then
    mkdir -p "$(dirname "$KEY_FILE_DEFAULT")"
    (umask 077 && age-keygen -o "$KEY_FILE_DEFAULT" 2>/dev/null)
    echo "secrets: new age key in $KEY_FILE_DEFAULT (keep it out of git)" >&2
  fi
  age-keygen -y "$KEY_FILE_DEFAULT"
}

with_key() {
  if [[ -z "${SOPS_AGE_KEY:-}" && -z "${SOPS_AGE_KEY_FILE:-}" && ! -f "$KEY_FILE_DEFAULT" ]]; then
    die "no age key: set SOPS_AGE_KEY or SOPS_AGE_KEY_FILE, or ask a holder of the key (scripts/secrets.sh keygen makes yours)"
  fi
  (cd "$(dirname "$RULES")" && sops --config "$RULES" "$@")
}

# sops exits 200 when the editor saved nothing new: not an error here.
cmd_edit() {
  local status=0
  with_key edit "$(realpath -m "$1")" || status=$?
  [[ $status -eq 200 ]] && return 0
  return "$status"
}

cmd_apply() {
  local file=$1 namespace=""
  shift
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --namespace | -n) namespace=${2:?}; shift 2 ;;
      *) usage ;;
    esac
  done
  need kubectl
  local -a ns=()
  if [[ -n "$namespace" ]]; then
    kubectl get namespace "$namespace" >/dev/null 2>&1 || kubectl create namespace "$namespace" >/dev/null
    ns=(--namespace "$namespace")
  fi
  with_key decrypt "$(realpath "$file")" | kubectl apply "${ns[@]}" -f -
}

main() {
  [[ $# -ge 1 ]] || usage
  local command=$1
  shift
  case "$command" in
    decrypt) [[ $# -eq 1 ]] || usage; need sops; with_key decrypt "$(realpath "$1")" ;;
    edit) [[ $# -eq 1 ]] || usage; need sops; cmd_edit "$1" ;;
    encrypt) [[ $# -eq 1 ]] || usage; need sops; (cd "$(dirname "$RULES")" && sops --config "$RULES" encrypt --in-place "$(realpath "$1")") ;;
    apply) [[ $# -ge 1 ]] || usage; need sops; cmd_apply "$@" ;;
    check) [[ $# -eq 0 ]] || usage; cmd_check ;;
    keygen) cmd_keygen ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
