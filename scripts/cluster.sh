#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1, as plain processes: etcd,
# kube-apiserver (TLS, RBAC, token users admin/viewer/operator),
# kube-controller-manager, kube-scheduler, kwok (fake kubelets: pods become
# Running/Ready, no container runs) and the Argo Rollouts controller.
# Binaries come from scripts/cluster-build.sh. See docs/runbooks/cluster.md.
#
# Usage: scripts/cluster.sh [--state-dir DIR] up|down|env|status|build
#   up      build if needed, start everything on free loopback ports, wait
#           until ready (API /readyz, nodes Ready, CRDs established, Rollouts
#           controller healthy); says so when already up
#   down    stop every process of the cluster (each in its own process group)
#   env     print `export` lines: eval "$(scripts/cluster.sh env)"
#   status  each component, its pid and whether it runs (a dead one's log tail)
#   build   scripts/cluster-build.sh build
#
# State directory: --state-dir, else $OPSBOX_CLUSTER_STATE, else
# target/cluster/state. Binaries: $OPSBOX_CLUSTER_DIR/bin (default
# target/cluster/bin); OPSBOX_CLUSTER_SKIP_BUILD=1 uses them as they are.
# OPSBOX_CLUSTER_QPS=N lifts the controllers' and scheduler's client rate
# limit (upstream: 20 and 50 requests/s) for scale runs of thousands of pods.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OPSBOX_CLUSTER_DIR:-$ROOT/target/cluster}
BIN=$OUT/bin
DATA=$OUT/data
STATE=${OPSBOX_CLUSTER_STATE:-$OUT/state}
# The namespace the app (and the operator user) lives in.
APP_NAMESPACE=${OPSBOX_K8S_NAMESPACE:-opsbox}
# Fake addresses, all inside 127.0.0.0/8: nothing listens there and nothing
# dials them (no container runs; kube-proxy is not part of the cluster).
SERVICE_CIDR=127.96.0.0/16
POD_CIDR=127.64.0.0/16
NODES=(kwok-node-0 kwok-node-1)
# Start order; `down` stops in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok rollouts-controller)
READY_TIMEOUT=${OPSBOX_CLUSTER_TIMEOUT:-90}
CLIENT_LIMITS=()
if [[ -n ${OPSBOX_CLUSTER_QPS:-} ]]; then
  CLIENT_LIMITS=(--kube-api-qps "$OPSBOX_CLUSTER_QPS" --kube-api-burst "$((OPSBOX_CLUSTER_QPS * 2))")
fi

log() { echo "cluster: $*" >&2; }
die() {
  log "$*"
  exit 1
}

# ---- processes ------------------------------------------------------------

pid_of() { cat "$STATE/run/$1.pid" 2>/dev/null || true; }

# Running, and not a zombie waiting for init to reap it.
alive() {
  local pid stat
  pid=$(pid_of "$1")
  [[ -n "$pid" ]] || return 1
  stat=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  [[ $stat != Z* ]]
}

log_tail() {
  echo "--- last lines of $STATE/logs/$1.log ---" >&2
  tail -n "${2:-25}" "$STATE/logs/$1.log" >&2 2>/dev/null || true
}

# Starts a component in its own session (so its process group is its pid),
# output to its log file.
start() {
  local name=$1
  shift
  setsid "$@" </dev/null >"$STATE/logs/$name.log" 2>&1 &
  echo $! >"$STATE/run/$name.pid"
}

# Fails (with the log tail) when a started component has died.
check_alive() {
  local c
  for c in "$@"; do
    if [[ -f "$STATE/run/$c.pid" ]] && ! alive "$c"; then
      log "$c exited"
      log_tail "$c"
      return 1
    fi
  done
}

# Polls a command until it succeeds; fails when the deadline passes or a
# component dies. $1: what is waited for.
wait_for() {
  local what=$1 deadline=$((SECONDS + READY_TIMEOUT))
  shift
  until "$@" >/dev/null 2>&1; do
    check_alive "${COMPONENTS[@]}" || return 1
    if ((SECONDS >= deadline)); then
      log "timed out after ${READY_TIMEOUT}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

# Whether a process group has a process that is not a zombie (an exited
# component waits for init to reap it, which can take seconds here).
group_running() {
  ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

stop_group() {
  local name=$1 pid i
  pid=$(pid_of "$name")
  [[ -n "$pid" ]] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    group_running "$pid" || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$STATE/run/$name.pid"
}

down() {
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop_group "${COMPONENTS[$i]}"
  done
}

# ---- ports ----------------------------------------------------------------

declare -A TAKEN=()
# A port nothing listens on, below the ephemeral range (so no outgoing
# connection takes it meanwhile) and not handed out before in this run.
free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 12000))
    [[ -z "${TAKEN[$port]:-}" ]] || continue
    if [[ -z "$(ss -Htln "sport = :$port" 2>/dev/null)" ]]; then
      TAKEN[$port]=1
      echo "$port"
      return 0
    fi
  done
  die "no free port found"
}

# ---- certificates, tokens, kubeconfigs -----------------------------------

# $1 name, $2 subject, $3 extensions (subjectAltName, extendedKeyUsage...).
issue_cert() {
  local name=$1 subject=$2 ext=$3 pki=$STATE/pki
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$pki/$name.key" -out "$pki/$name.csr" -subj "$subject" 2>/dev/null
  printf '%s\n' "$ext" >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 2 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

make_pki() {
  local pki=$STATE/pki server=serverAuth client=clientAuth
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" -subj "/CN=opsbox-cluster-ca" 2>/dev/null
  issue_cert apiserver "/CN=kube-apiserver" \
    "subjectAltName=IP:127.0.0.1,IP:${SERVICE_CIDR%.0/*}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage=$server"
  issue_cert kwok-serving "/CN=kwok" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=$server"
  issue_cert kube-controller-manager "/CN=system:kube-controller-manager" "extendedKeyUsage=$client"
  issue_cert kube-scheduler "/CN=system:kube-scheduler" "extendedKeyUsage=$client"
  # kwok plays every kubelet: it patches nodes, leases and pod status.
  issue_cert kwok "/O=system:masters/CN=kwok-controller" "extendedKeyUsage=$client"
  # Bound to Argo Rollouts' own ClusterRole from its install manifests.
  issue_cert rollouts-controller "/CN=argo-rollouts" "extendedKeyUsage=$client"
  issue_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=$client"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  chmod 600 "$pki"/*.key
}

# Static tokens: token,user,uid,"groups".
make_tokens() {
  local user
  : >"$STATE/pki/tokens.csv"
  for user in admin viewer operator; do
    openssl rand -hex 24 >"$STATE/pki/$user.token"
  done
  {
    echo "$(cat "$STATE/pki/admin.token"),admin,admin,\"system:masters\""
    echo "$(cat "$STATE/pki/viewer.token"),viewer,viewer,\"opsbox:viewers\""
    echo "$(cat "$STATE/pki/operator.token"),operator,operator,\"opsbox:operators\""
  } >"$STATE/pki/tokens.csv"
  chmod 600 "$STATE/pki/tokens.csv" "$STATE"/pki/*.token
}

# $1 file, $2 user name, then either "token VALUE" or "cert NAME".
write_kubeconfig() {
  local file=$1 user=$2 kind=$3 value=$4 creds
  if [[ $kind == token ]]; then
    creds="    token: $value"
  else
    creds="    client-certificate: $STATE/pki/$value.crt
    client-key: $STATE/pki/$value.key"
  fi
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: opsbox
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $STATE/pki/ca.crt
users:
- name: $user
  user:
$creds
contexts:
- name: $user@opsbox
  context:
    cluster: opsbox
    user: $user
    namespace: $APP_NAMESPACE
current-context: $user@opsbox
EOF
  chmod 600 "$file"
}

make_kubeconfigs() {
  local kc=$STATE/kubeconfig user
  mkdir -p "$kc"
  for user in admin viewer operator; do
    write_kubeconfig "$kc/$user" "$user" token "$(cat "$STATE/pki/$user.token")"
  done
  for user in kube-controller-manager kube-scheduler kwok rollouts-controller; do
    write_kubeconfig "$kc/$user" "$user" cert "$user"
  done
}

# ---- objects --------------------------------------------------------------

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig/admin" "$@"; }

# Namespaces, the users' RBAC, the fake nodes (no taints).
bootstrap_objects() {
  local node
  {
    cat <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $APP_NAMESPACE}
---
apiVersion: v1
kind: Namespace
metadata: {name: argo-rollouts}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: opsbox-viewers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "opsbox:viewers"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: opsbox-operator, namespace: $APP_NAMESPACE}
rules:
- apiGroups: ["", apps, batch, autoscaling, policy, events.k8s.io, networking.k8s.io, discovery.k8s.io, argoproj.io, keda.sh]
  resources: ["*"]
  verbs: [get, list, watch]
- apiGroups: [argoproj.io]
  resources: [rollouts, rollouts/status]
  verbs: [patch, update]
- apiGroups: [""]
  resources: [pods]
  verbs: [delete]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: opsbox-operators, namespace: $APP_NAMESPACE}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: opsbox-operator}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "opsbox:operators"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: argo-rollouts}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: argo-rollouts}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: argo-rollouts}
EOF
    for node in "${NODES[@]}"; do
      cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $node
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {type: kwok, kubernetes.io/hostname: $node, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
EOF
    done
  } >"$STATE/bootstrap.yaml"
  # One server-side apply (the Rollout CRD is larger than client-side apply's
  # annotation allows).
  kubectl_admin apply --server-side -f "$STATE/bootstrap.yaml" -f "$STATE/data/rbac/argo-rollouts" \
    -f "$STATE/data/crds/argo-rollouts" -f "$STATE/data/crds/keda" >/dev/null
}

# kwok's configuration (its options are flags): its default stages (from its
# module) and ClusterLogs serving every container's log from one file.
kwok_config() {
  local f
  cat <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata: {name: opsbox-logs}
spec:
  logs:
  - logsFile: $STATE/pod.log
    follow: false
EOF
  for f in "$STATE"/data/kwok-stages/*.yaml; do
    echo "---"
    cat "$f"
  done
}

# ---- readiness probes -----------------------------------------------------

etcd_healthy() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$ETCD_PORT" || return 1
  printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  reply=$(cat <&3)
  exec 3<&-
  [[ $reply == *'"health":"true"'* ]]
}

http_ok() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  reply=$(head -n 1 <&3)
  exec 3<&-
  [[ $reply == *" 200"* ]]
}

api_ready() { [[ "$(kubectl_admin get --raw /readyz 2>/dev/null)" == ok ]]; }

nodes_ready() {
  local ready
  ready=$(kubectl_admin get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$' || true)
  ((ready == ${#NODES[@]}))
}

crds_established() {
  local established
  established=$(kubectl_admin get crd -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Established")].status}{"\n"}{end}' | grep -c '^True$' || true)
  ((established > 0 && established == $(find "$STATE/data/crds" -name '*.yaml' | wc -l)))
}

default_sa() { kubectl_admin -n "$APP_NAMESPACE" get serviceaccount default; }

# ---- commands -------------------------------------------------------------

write_env() {
  cat >"$STATE/env" <<EOF
export KUBECONFIG=$STATE/kubeconfig/admin
export OPSBOX_KUBECONFIG_ADMIN=$STATE/kubeconfig/admin
export OPSBOX_KUBECONFIG_VIEWER=$STATE/kubeconfig/viewer
export OPSBOX_KUBECONFIG_OPERATOR=$STATE/kubeconfig/operator
export OPSBOX_K8S_NAMESPACE=$APP_NAMESPACE
export OPSBOX_CLUSTER_STATE=$STATE
export OPSBOX_CLUSTER_BIN=$BIN
export OPSBOX_CLUSTER_CRDS=$STATE/data/crds
export OPSBOX_CLUSTER_POD_LOG=$STATE/pod.log
export OPSBOX_CLUSTER_API=https://127.0.0.1:$API_PORT
export PATH=$BIN:\$PATH
EOF
}

# An `up` that did not finish stops what it started.
abort_up() {
  log "start failed; stopping what was started (logs in $STATE/logs)"
  down
}

all_alive() {
  local c
  for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done
}

up() {
  if [[ -d "$STATE/run" ]] && compgen -G "$STATE/run/*.pid" >/dev/null; then
    if all_alive; then
      log "already up (state $STATE): eval \"\$($0 --state-dir $STATE env)\""
      return 0
    fi
    log "a previous cluster in $STATE is partly down:"
    status || true
    log "stopping what is left of it"
    down
  fi
  if [[ "${OPSBOX_CLUSTER_SKIP_BUILD:-0}" != 1 ]]; then
    OPSBOX_CLUSTER_DIR=$OUT "$ROOT/scripts/cluster-build.sh" build
  fi
  command -v openssl >/dev/null || die "openssl is needed (apt-get install openssl)"
  command -v ss >/dev/null || die "ss is needed (apt-get install iproute2)"

  local start=$SECONDS
  # Only ever delete a directory that is empty or an earlier cluster's state.
  if [[ -d "$STATE" && -n "$(ls -A "$STATE")" && ! -f "$STATE/ports.env" && ! -d "$STATE/run" ]]; then
    die "$STATE is not empty and holds no cluster state: choose another --state-dir"
  fi
  rm -rf "$STATE"
  mkdir -p "$STATE"/{run,logs,etcd}
  cp -r "$DATA" "$STATE/data"
  # CRI log format (time, stream, P/F tag, message): what kwok serves as the
  # containers' logs; `kubectl logs` returns the messages.
  printf '%s\n' "2026-01-01T00:00:00.000000000Z stdout F opsbox pod log: line 1" \
    "2026-01-01T00:00:01.000000000Z stderr F opsbox pod log: line 2" >"$STATE/pod.log"
  trap 'abort_up' EXIT

  ETCD_PORT=$(free_port)
  ETCD_PEER_PORT=$(free_port)
  API_PORT=$(free_port)
  KWOK_PORT=$(free_port)
  ROLLOUTS_METRICS_PORT=$(free_port)
  ROLLOUTS_HEALTH_PORT=$(free_port)
  declare -p ETCD_PORT ETCD_PEER_PORT API_PORT KWOK_PORT ROLLOUTS_METRICS_PORT ROLLOUTS_HEALTH_PORT |
    sed 's/^declare -- //' >"$STATE/ports.env"
  make_pki
  make_tokens
  make_kubeconfigs
  write_env

  start etcd "$BIN/etcd" --name opsbox --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "opsbox=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level warn
  wait_for etcd etcd_healthy

  local pki=$STATE/pki
  start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-account-issuer "https://127.0.0.1:$API_PORT" \
    --service-cluster-ip-range "$SERVICE_CIDR" --endpoint-reconciler-type none \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$pki/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --cert-dir "$STATE/apiserver" --allow-privileged \
    --profiling=false
  wait_for "kube-apiserver /readyz" api_ready

  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$STATE/kubeconfig/kube-controller-manager" \
    --leader-elect=false --secure-port 0 --bind-address 127.0.0.1 \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --use-service-account-credentials --cluster-name opsbox \
    --controllers '*,-csrsigning,-csrapproving,-csrcleaner' --profiling=false \
    "${CLIENT_LIMITS[@]}"
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$STATE/kubeconfig/kube-scheduler" \
    --leader-elect=false --secure-port 0 --bind-address 127.0.0.1 --profiling=false \
    "${CLIENT_LIMITS[@]}"
  kwok_config >"$STATE/kwok.yaml"
  start kwok "$BIN/kwok" --kubeconfig "$STATE/kubeconfig/kwok" --config "$STATE/kwok.yaml" \
    --manage-all-nodes --cidr "$POD_CIDR" --node-ip 127.0.0.1 --node-port "$KWOK_PORT" \
    --server-address "127.0.0.1:$KWOK_PORT" --node-lease-duration-seconds 40 \
    --tls-cert-file "$pki/kwok-serving.crt" --tls-private-key-file "$pki/kwok-serving.key"
  bootstrap_objects
  wait_for "the CRDs to be established" crds_established
  start rollouts-controller env POD_NAMESPACE=argo-rollouts "$BIN/rollouts-controller" \
    --kubeconfig "$STATE/kubeconfig/rollouts-controller" --leader-elect=false \
    --metricsPort "$ROLLOUTS_METRICS_PORT" --healthzPort "$ROLLOUTS_HEALTH_PORT"
  wait_for "nodes Ready" nodes_ready
  wait_for "the default service account of $APP_NAMESPACE" default_sa
  wait_for "the Rollouts controller /healthz" http_ok "$ROLLOUTS_HEALTH_PORT" /healthz
  trap - EXIT
  echo "$((SECONDS - start))" >"$STATE/up-seconds"
  log "up in $((SECONDS - start)) s: API https://127.0.0.1:$API_PORT, state $STATE"
  log "use it: eval \"\$($0 --state-dir $STATE env)\"; kubectl get nodes"
}

status() {
  local c pid rc=0
  [[ -d "$STATE/run" ]] || {
    echo "no cluster in $STATE"
    return 1
  }
  for c in "${COMPONENTS[@]}"; do
    pid=$(pid_of "$c")
    if [[ -z "$pid" ]]; then
      printf '%-24s %s\n' "$c" "not started"
      rc=1
    elif alive "$c"; then
      printf '%-24s %s\n' "$c" "running (pid $pid)"
    else
      printf '%-24s %s\n' "$c" "DEAD (was pid $pid)"
      log_tail "$c" 10
      rc=1
    fi
  done
  return "$rc"
}

main() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --state-dir)
        [[ $# -ge 2 ]] || usage
        STATE=$2
        shift 2
        ;;
      --state-dir=*)
        STATE=${1#*=}
        shift
        ;;
      -h | --help) usage ;;
      *) break ;;
    esac
  done
  [[ $# -eq 1 ]] || usage
  mkdir -p "$(dirname "$STATE")"
  STATE=$(cd "$(dirname "$STATE")" && pwd)/$(basename "$STATE")
  case "$1" in
    up) up ;;
    down)
      down
      log "down (state kept in $STATE)"
      ;;
    env)
      [[ -f "$STATE/env" ]] || die "no cluster in $STATE: run $0 up"
      cat "$STATE/env"
      ;;
    status) status ;;
    build) OPSBOX_CLUSTER_DIR=$OUT exec "$ROOT/scripts/cluster-build.sh" build ;;
    *) usage ;;
  esac
}

main "$@"
