#!/usr/bin/env bash
# Builds and locates the binaries and CRDs of the test control plane
# (a real etcd + kube-apiserver, like controller-runtime's envtest).
#
#   bash scripts/control-plane.sh build   # build (or reuse) kube-apiserver, etcd, helm
#   bash scripts/control-plane.sh paths   # print JSON with binary paths and CRD dirs
#   bash scripts/control-plane.sh build-node  # also kubelet, kube-controller-manager,
#                                             # kube-scheduler, kube-proxy and pause (kind's node image)
#   bash scripts/control-plane.sh node-paths  # print NAME=path lines for all of them
#   bash scripts/control-plane.sh build-kind [--no-coredns]  # kind, kubeadm and kubectl (one
#                                             # go build) and a CoreDNS (npm run kind:up)
#   bash scripts/control-plane.sh kind-paths  # print NAME=path lines for those
#
# Everything is built from Go modules pinned under test/controlplane/ (test-only).
# Binaries go to ${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}/bin with the
# version in the file name, so a version bump rebuilds and anything else reuses.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CP="$ROOT/test/controlplane"
TOOLS_DIR="${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}"
BIN_DIR="$TOOLS_DIR/bin"

# helm has no wrapper module: `go install` of the pinned version is enough.
HELM_VERSION="v3.22.0"

log() { printf '[control-plane] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

find_go() {
  if command -v go >/dev/null 2>&1; then
    GO="$(command -v go)"
  elif [ -x /usr/local/go/bin/go ]; then
    GO=/usr/local/go/bin/go
  else
    return 1
  fi
}

# Version of a required module, read from a wrapper go.mod.
mod_version() { # <go.mod> <module path>
  awk -v m="$2" '
    $1 == "require" && $2 == m { print $3; exit }
    $1 == m && $2 ~ /^v/ { print $2; exit }
  ' "$1"
}

KUBE_VERSION="$(mod_version "$CP/kube-apiserver/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(mod_version "$CP/etcd/go.mod" go.etcd.io/etcd/server/v3)"
GATEWAY_API_VERSION="$(mod_version "$CP/crds/go.mod" sigs.k8s.io/gateway-api)"
KGATEWAY_VERSION="$(mod_version "$CP/crds/go.mod" github.com/kgateway-dev/kgateway/v2)"
# openreports.io Report (serve --reports): the format current Kyverno and Policy Reporter read.
OPENREPORTS_VERSION="$(mod_version "$CP/crds/go.mod" github.com/openreports/reports-api)"
[ -n "$KUBE_VERSION" ] && [ -n "$ETCD_VERSION" ] && [ -n "$GATEWAY_API_VERSION" ] && [ -n "$KGATEWAY_VERSION" ] && [ -n "$OPENREPORTS_VERSION" ] \
  || die "could not read pinned versions from $CP/*/go.mod"

KUBE_APISERVER_BIN="$BIN_DIR/kube-apiserver-$KUBE_VERSION"
ETCD_BIN="$BIN_DIR/etcd-$ETCD_VERSION"
HELM_BIN="$BIN_DIR/helm-$HELM_VERSION"
# The node's components come from the kube-apiserver wrapper module (same pins).
NODE_COMPONENTS=(kubelet kube-controller-manager kube-scheduler kube-proxy)
PAUSE_BIN="$BIN_DIR/pause-kga1"
# What kind's node needs besides the node components (npm run kind:up).
KIND_VERSION="v0.33.0"
KIND_BIN="$BIN_DIR/kind-$KIND_VERSION"
KUBE_CLIENTS=(kubeadm kubectl)
COREDNS_VERSION="$(mod_version "$CP/coredns/go.mod" github.com/coredns/coredns)"
COREDNS_BIN="$BIN_DIR/coredns-$COREDNS_VERSION"

# Builds the main package of a wrapper module into <out>, unless <out> exists.
build_module() { # <name> <module dir> <out> [extra -ldflags]
  local name="$1" dir="$2" out="$3" xflags="${4:-}"
  if [ -x "$out" ]; then
    log "$name: reusing $out"
    return 0
  fi
  log "$name: building $(basename "$out") (this can take a while on a small machine) ..."
  local start tmp
  start=$(date +%s)
  tmp="$out.tmp.$$"
  (
    cd "$dir"
    GOFLAGS=-mod=mod CGO_ENABLED=0 "$GO" build -trimpath -ldflags="-s -w $xflags" -o "$tmp" .
  ) || { rm -f "$tmp"; die "$name build failed"; }
  mv -f "$tmp" "$out"
  log "$name: built in $(( $(date +%s) - start ))s -> $out"
}

build_helm() {
  if [ -x "$HELM_BIN" ]; then
    log "helm: reusing $HELM_BIN"
    return 0
  fi
  log "helm: building $HELM_VERSION ..."
  local start gobin
  start=$(date +%s)
  gobin="$(mktemp -d "$BIN_DIR/.helm-build.XXXXXX")"
  # `go install pkg@version` ignores the enclosing module; GOFLAGS=-mod=mod would be rejected.
  GOFLAGS= GOBIN="$gobin" CGO_ENABLED=0 "$GO" install -trimpath \
    -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" || { rm -rf "$gobin"; die "helm build failed"; }
  mv -f "$gobin/helm" "$HELM_BIN"
  rm -rf "$gobin"
  log "helm: built in $(( $(date +%s) - start ))s -> $HELM_BIN"
}

# Prints the module cache dir of MODULE@VERSION, downloading it if needed.
module_dir() { # <module> <version>
  local out
  out="$(cd "$CP/crds" && GOFLAGS=-mod=mod "$GO" mod download -json "$1@$2")" \
    || die "go mod download $1@$2 failed"
  printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1
}

json_str() { # minimal JSON string escaping for paths
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}

# Like hack/lib/version.sh: without these, /version says v0.0.0-master (and helm's
# kubeVersion checks would fail against the test cluster).
kube_version_ldflags() {
  local v="${KUBE_VERSION#v}" major minor pkg flags=""
  major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "$flags"
}

cmd_build() {
  find_go || die "Go not found (looked for 'go' on PATH and /usr/local/go/bin/go)"
  mkdir -p "$BIN_DIR"
  # Serialise concurrent builds (e.g. several test files asking at once); later ones reuse.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$BIN_DIR/.build.lock"
    flock 9
  fi
  local start
  start=$(date +%s)
  log "go: $GO ($("$GO" env GOVERSION))"
  # One after the other: kube-apiserver alone saturates 2 cores and needs a lot of RAM.
  build_module kube-apiserver "$CP/kube-apiserver" "$KUBE_APISERVER_BIN" "$(kube_version_ldflags)"
  build_module etcd "$CP/etcd" "$ETCD_BIN"
  build_helm
  log "all binaries ready in $(( $(date +%s) - start ))s"
}

# Builds k8s.io/kubernetes/cmd/<name> inside the kube-apiserver wrapper module.
build_kube_cmd() { # <name>
  local name="$1" out="$BIN_DIR/$1-$KUBE_VERSION"
  if [ -x "$out" ]; then
    log "$name: reusing $out"
    return 0
  fi
  log "$name: building $(basename "$out") ..."
  local start tmp
  start=$(date +%s)
  tmp="$out.tmp.$$"
  (
    cd "$CP/kube-apiserver"
    GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 15 "$GO" build -trimpath -ldflags="-s -w $(kube_version_ldflags)" \
      -o "$tmp" "k8s.io/kubernetes/cmd/$name"
  ) || { rm -f "$tmp"; die "$name build failed"; }
  mv -f "$tmp" "$out"
  log "$name: built in $(( $(date +%s) - start ))s -> $out"
}

cmd_build_node() {
  cmd_build
  local name
  for name in "${NODE_COMPONENTS[@]}"; do build_kube_cmd "$name"; done
  build_module pause "$CP/pause" "$PAUSE_BIN"
}

# kubeadm and kubectl in one `go build` (they share most packages, and the
# cache of the node components' builds).
build_kube_clients() {
  local missing=() name
  for name in "${KUBE_CLIENTS[@]}"; do
    if [ -x "$BIN_DIR/$name-$KUBE_VERSION" ]; then log "$name: reusing $BIN_DIR/$name-$KUBE_VERSION"; else missing+=("$name"); fi
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  log "${missing[*]}: building $KUBE_VERSION in one go build ..."
  local start tmp pkgs=()
  start=$(date +%s)
  tmp="$(mktemp -d "$BIN_DIR/.kube-clients.XXXXXX")"
  for name in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$name"); done
  (
    cd "$CP/kube-apiserver"
    GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 19 "$GO" build -trimpath -ldflags="-s -w $(kube_version_ldflags)" -o "$tmp/" "${pkgs[@]}"
  ) || { rm -rf "$tmp"; die "${missing[*]} build failed"; }
  for name in "${missing[@]}"; do mv -f "$tmp/$name" "$BIN_DIR/$name-$KUBE_VERSION"; done
  rm -rf "$tmp"
  log "${missing[*]}: built in $(( $(date +%s) - start ))s"
}

# kind has no replace directives: `go install` of the pinned version.
build_kind() {
  if [ -x "$KIND_BIN" ]; then
    log "kind: reusing $KIND_BIN"
    return 0
  fi
  log "kind: building $KIND_VERSION ..."
  local start gobin
  start=$(date +%s)
  gobin="$(mktemp -d "$BIN_DIR/.kind-build.XXXXXX")"
  GOFLAGS= GOBIN="$gobin" CGO_ENABLED=0 nice -n 19 "$GO" install -trimpath -ldflags="-s -w" "sigs.k8s.io/kind@$KIND_VERSION" \
    || { rm -rf "$gobin"; die "kind build failed"; }
  mv -f "$gobin/kind" "$KIND_BIN"
  rm -rf "$gobin"
  log "kind: built in $(( $(date +%s) - start ))s -> $KIND_BIN"
}

cmd_build_kind() { # [--no-coredns]: Docker's path runs kind's published node image, which has its own
  find_go || die "Go not found (looked for 'go' on PATH and /usr/local/go/bin/go)"
  mkdir -p "$BIN_DIR"
  exec 9>"$BIN_DIR/.build.lock"
  flock 9
  local start
  start=$(date +%s)
  build_kind
  build_kube_clients
  [ "${1:-}" = --no-coredns ] || build_module coredns "$CP/coredns" "$COREDNS_BIN"
  exec 9>&-
  log "kind binaries ready in $(( $(date +%s) - start ))s"
}

cmd_kind_paths() {
  local name
  printf 'KIND_VERSION=%s\nkind=%s\ncoredns=%s\nCOREDNS_VERSION=%s\nETCD_VERSION=%s\n' "$KIND_VERSION" "$KIND_BIN" "$COREDNS_BIN" "$COREDNS_VERSION" "$ETCD_VERSION"
  for name in "${KUBE_CLIENTS[@]}"; do printf '%s=%s\n' "$name" "$BIN_DIR/$name-$KUBE_VERSION"; done
}

cmd_node_paths() {
  local name
  printf 'KUBE_VERSION=%s\nkube_apiserver=%s\netcd=%s\nhelm=%s\npause=%s\n' \
    "$KUBE_VERSION" "$KUBE_APISERVER_BIN" "$ETCD_BIN" "$HELM_BIN" "$PAUSE_BIN"
  for name in "${NODE_COMPONENTS[@]}"; do printf '%s=%s\n' "${name//-/_}" "$BIN_DIR/$name-$KUBE_VERSION"; done
}

cmd_paths() {
  find_go || die "Go not found (needed to locate the CRD modules)"
  local gw kg or
  gw="$(module_dir sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION")"
  kg="$(module_dir github.com/kgateway-dev/kgateway/v2 "$KGATEWAY_VERSION")"
  or="$(module_dir github.com/openreports/reports-api "$OPENREPORTS_VERSION")"
  [ -n "$gw" ] && [ -n "$kg" ] && [ -n "$or" ] || die "could not locate CRD modules in the module cache"
  printf '{"kubeApiserver":%s,"etcd":%s,"helm":%s,"versions":{"kubernetes":%s,"etcd":%s,"helm":%s,"gatewayApi":%s,"kgateway":%s},"crdDirs":{"gatewayApi":%s,"kgateway":%s,"agentgateway":%s,"openreports":%s}}\n' \
    "$(json_str "$KUBE_APISERVER_BIN")" "$(json_str "$ETCD_BIN")" "$(json_str "$HELM_BIN")" \
    "$(json_str "$KUBE_VERSION")" "$(json_str "$ETCD_VERSION")" "$(json_str "$HELM_VERSION")" \
    "$(json_str "$GATEWAY_API_VERSION")" "$(json_str "$KGATEWAY_VERSION")" \
    "$(json_str "$gw/config/crd/standard")" \
    "$(json_str "$kg/install/helm/kgateway-crds/templates")" \
    "$(json_str "$kg/install/helm/agentgateway-crds/templates")" \
    "$(json_str "$or/config/crd")"
}

case "${1:-}" in
  build) cmd_build ;;
  paths) cmd_paths ;;
  build-node) cmd_build_node ;;
  node-paths) cmd_node_paths ;;
  build-kind) shift; cmd_build_kind "$@" ;;
  kind-paths) cmd_kind_paths ;;
  *) echo "usage: $0 {build|paths|build-node|node-paths|build-kind|kind-paths}" >&2; exit 2 ;;
esac
