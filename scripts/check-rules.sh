#!/usr/bin/env bash
# Checks the generated Prometheus rules (promtool check rules), runs their
# unit tests (promtool test rules) and checks the Alertmanager config (amtool,
# when installed) and the Loki, promtail and OTel Collector configs (their own
# binaries, when installed). `make test` calls this; the rules themselves come from
# observability/slo.yaml through `opsbox slo rules`.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/check-rules.sh [-j JOBS] [-h]

  -j JOBS  promtool test files run in parallel (default: number of CPUs)
  -h       show this help

Needs promtool (Debian: apt-get install prometheus); amtool is optional
(Debian: apt-get install prometheus-alertmanager), and so are loki, promtail
and otelcol-contrib (not in Debian: checked when on the PATH).
EOF
}

die() {
  echo "check-rules: $*" >&2
  exit 1
}

root_dir() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd
}

check_rules() {
  local rules_dir=$1
  local -a files=("$rules_dir"/*.yaml)
  [[ -e ${files[0]} ]] || die "no rule files in $rules_dir (run: opsbox slo rules)"
  promtool check rules "${files[@]}"
}

# Each test file takes a while (days of synthetic series), so they run in
# parallel; each one's report is printed whole, in order, once all are done.
test_rules() {
  local tests_dir=$1 jobs=$2 status=0 file
  local -a files=("$tests_dir"/*.yaml)
  [[ -e ${files[0]} ]] || die "no promtool tests in $tests_dir (run: opsbox slo rules)"
  logs_dir=$(mktemp -d)
  trap 'rm -rf "$logs_dir"' EXIT
  # shellcheck disable=SC2016 # $1 and $2 belong to the inner sh.
  printf '%s\0' "${files[@]}" |
    xargs -0 -n 1 -P "$jobs" sh -c \
      'promtool test rules "$2" >"$1/$(basename "$2").log" 2>&1' _ "$logs_dir" ||
    status=$?
  for file in "${files[@]}"; do
    cat "$logs_dir/$(basename "$file").log"
  done
  [[ $status -eq 0 ]] || die "promtool test rules failed (see above)"
}

check_alertmanager() {
  local config=$1
  if ! command -v amtool >/dev/null 2>&1; then
    echo "check-rules: amtool not found, skipping $config (apt-get install prometheus-alertmanager)"
    return 0
  fi
  amtool check-config "$config"
}

# Loki, promtail and the OpenTelemetry Collector are not packaged by Debian;
# their configs are checked structurally by `cargo nextest run -p opsbox --test
# dashboards`, and by their own binaries here when one is on the PATH.
# usage: check_optional NAME FILE COMMAND...
check_optional() {
  local name=$1 file=$2
  shift 2
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "check-rules: $1 not found, skipping $file ($name; the Rust test checks its structure)"
    return 0
  fi
  "$@" || die "$name rejects $file"
}

check_log_and_trace_configs() {
  local root=$1
  local loki=$root/observability/loki/loki.yaml
  local promtail=$root/observability/loki/promtail.yaml
  local collector=$root/observability/otel/collector.yaml
  check_optional Loki "$loki" \
    loki -config.file="$loki" -config.expand-env=true -verify-config
  check_optional promtail "$promtail" \
    promtail -config.file="$promtail" -config.expand-env=true -check-syntax
  check_optional "OpenTelemetry Collector" "$collector" \
    otelcol-contrib validate --config="$collector"
}

main() {
  local jobs
  jobs=$(nproc 2>/dev/null || echo 1)
  while getopts ":j:h" opt; do
    case $opt in
      j) jobs=$OPTARG ;;
      h) usage; exit 0 ;;
      *) usage >&2; exit 2 ;;
    esac
  done
  shift $((OPTIND - 1))
  [[ $# -eq 0 ]] || { usage >&2; exit 2; }
  [[ $jobs =~ ^[1-9][0-9]*$ ]] || die "-j wants a positive number, got '$jobs'"

  command -v promtool >/dev/null 2>&1 ||
    die "promtool not found (apt-get install prometheus)"

  local root
  root=$(root_dir)
  check_rules "$root/observability/prometheus/rules"
  test_rules "$root/observability/prometheus/tests" "$jobs"
  check_alertmanager "$root/observability/alertmanager/alertmanager.yml"
  check_log_and_trace_configs "$root"
  echo "check-rules: all rules, rule tests, alert routing and log/trace configs are fine"
}

main "$@"
