#!/usr/bin/env bash
# cert-manager's controller and CA injector, built from the published
# github.com/cert-manager/cert-manager module (pinned in
# test/controlplane/cert-manager/go.mod), for certificates.mode=certManager on
# the kind cluster (test/e2e/scenarios/certManager.e2e.test.ts). Test-only.
#
#   bash scripts/cert-manager.sh build   # build (or reuse) both binaries
#   bash scripts/cert-manager.sh paths   # NAME=path lines: controller, cainjector, crds
#
# Binaries go to ${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}/bin with the
# version (and a hash of the mains) in their names, as scripts/control-plane.sh does.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOD="$ROOT/test/controlplane/cert-manager"
BIN_DIR="${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}/bin"
log() { printf '[cert-manager] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

GO="$(command -v go || true)"
[ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; } || die "Go not found"
VERSION="$(awk '$1 == "github.com/cert-manager/cert-manager" { print $2; exit }' "$MOD/go.mod")"
[ -n "$VERSION" ] || die "no cert-manager version in $MOD/go.mod"
# The mains are ours: a change to one builds it anew.
src_hash() { cat "$MOD/go.mod" "$MOD/go.sum" "$MOD/$1/main.go" | sha256sum | cut -c1-8; }
CONTROLLER="$BIN_DIR/cert-manager-controller-$VERSION-$(src_hash controller)"
CAINJECTOR="$BIN_DIR/cert-manager-cainjector-$VERSION-$(src_hash cainjector)"

build_one() { # <package dir> <out>
  if [ -x "$2" ]; then log "reusing $2"; return 0; fi
  log "building $(basename "$2") (a few minutes cold) ..."
  local start tmp
  start=$(date +%s)
  tmp="$2.tmp.$$"
  (cd "$MOD" && GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 15 "$GO" build -trimpath -ldflags='-s -w' -o "$tmp" "./$1") \
    || { rm -f "$tmp"; die "$1 build failed"; }
  mv -f "$tmp" "$2"
  log "built $(basename "$2") in $(( $(date +%s) - start ))s"
}

crds_dir() {
  local dir
  dir="$(cd "$MOD" && GOFLAGS=-mod=mod "$GO" mod download -json "github.com/cert-manager/cert-manager@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
  [ -d "$dir/deploy/crds" ] || die "no deploy/crds in the cert-manager module ($dir)"
  printf '%s\n' "$dir/deploy/crds"
}

case "${1:-}" in
  build)
    mkdir -p "$BIN_DIR"
    exec 9>"$BIN_DIR/.cert-manager-build.lock"
    flock 9
    build_one controller "$CONTROLLER"
    build_one cainjector "$CAINJECTOR"
    ;;
  paths)
    printf 'VERSION=%s\ncontroller=%s\ncainjector=%s\ncrds=%s\n' "$VERSION" "$CONTROLLER" "$CAINJECTOR" "$(crds_dir)"
    ;;
  *) echo "usage: $0 build|paths" >&2; exit 2 ;;
esac
