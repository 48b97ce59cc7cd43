#!/usr/bin/env bash
# cosign (Sigstore's signing tool), built from its Go module, for the test that
# runs scripts/release/sign.sh against a registry on loopback
# (test/e2e/releaseSign.e2e.test.ts). The release workflow installs cosign
# with sigstore/cosign-installer instead.
#
#   bash scripts/cosign.sh build   # build (or reuse) the binary
#   bash scripts/cosign.sh path    # print the binary's path (built or not)
#
# Like scripts/control-plane.sh: ${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}/bin,
# with the version in the file name, so a version bump rebuilds and anything else reuses.
# v2: signing with a key pair and no transparency log works offline (v3 reads
# its signing configuration from Sigstore's TUF repository first).
set -euo pipefail

COSIGN_VERSION="v2.6.5"
TOOLS_DIR="${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}"
BIN_DIR="$TOOLS_DIR/bin"
COSIGN_BIN="$BIN_DIR/cosign-$COSIGN_VERSION"

log() { printf '[cosign] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

find_go() {
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"
  elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
  else return 1; fi
}

cmd_build() {
  if [ -x "$COSIGN_BIN" ]; then
    log "reusing $COSIGN_BIN"
    return 0
  fi
  find_go || die "Go not found (looked for 'go' on PATH and /usr/local/go/bin/go)"
  mkdir -p "$BIN_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$BIN_DIR/.cosign-build.lock"
    flock 9
    [ -x "$COSIGN_BIN" ] && { log "reusing $COSIGN_BIN"; return 0; }
  fi
  log "building cosign $COSIGN_VERSION (several minutes on a small machine) ..."
  local start gobin
  start=$(date +%s)
  gobin="$(mktemp -d "$BIN_DIR/.cosign-build.XXXXXX")"
  # No replace directives in its go.mod: `go install pkg@version` works (and ignores the enclosing module).
  GOFLAGS= GOBIN="$gobin" CGO_ENABLED=0 nice -n 19 "$GO" install -trimpath \
    -ldflags="-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
    "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION" || { rm -rf "$gobin"; die "cosign build failed"; }
  mv -f "$gobin/cosign" "$COSIGN_BIN"
  rm -rf "$gobin"
  log "built in $(( $(date +%s) - start ))s -> $COSIGN_BIN"
}

case "${1:-}" in
  build) cmd_build ;;
  path) printf '%s\n' "$COSIGN_BIN" ;;
  *) echo "usage: $0 build|path" >&2; exit 2 ;;
esac
