#!/usr/bin/env bash
# Builds (or reuses) promtool from the Prometheus Go module, for the test that
# runs `promtool check rules` and `promtool test rules` on the chart's
# PrometheusRule (test/e2e/chart-monitoring.e2e.test.ts).
#
#   bash scripts/promtool.sh build   # build into the tools folder, print nothing else on stdout
#   bash scripts/promtool.sh path    # print the binary's path (built or not)
#
# Like scripts/control-plane.sh: ${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}/bin,
# with the version in the file name, so a version bump rebuilds and anything else reuses.
set -euo pipefail

# Prometheus v3.x is published to the Go module proxy as v0.3xx.y (v0.316.0 is 3.16.0).
PROMETHEUS_VERSION="v0.316.0"
TOOLS_DIR="${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}"
BIN_DIR="$TOOLS_DIR/bin"
PROMTOOL_BIN="$BIN_DIR/promtool-$PROMETHEUS_VERSION"

log() { printf '[promtool] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

find_go() {
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"
  elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
  else return 1; fi
}

cmd_build() {
  if [ -x "$PROMTOOL_BIN" ]; then
    log "reusing $PROMTOOL_BIN"
    return 0
  fi
  find_go || die "Go not found (looked for 'go' on PATH and /usr/local/go/bin/go)"
  mkdir -p "$BIN_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$BIN_DIR/.promtool-build.lock"
    flock 9
    [ -x "$PROMTOOL_BIN" ] && { log "reusing $PROMTOOL_BIN"; return 0; }
  fi
  log "building promtool $PROMETHEUS_VERSION (a few minutes on a small machine) ..."
  local start gobin
  start=$(date +%s)
  gobin="$(mktemp -d "$BIN_DIR/.promtool-build.XXXXXX")"
  # `go install pkg@version` ignores the enclosing module; GOFLAGS=-mod=mod would be rejected.
  GOFLAGS= GOBIN="$gobin" CGO_ENABLED=0 "$GO" install -trimpath -ldflags="-s -w" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" || { rm -rf "$gobin"; die "promtool build failed"; }
  mv -f "$gobin/promtool" "$PROMTOOL_BIN"
  rm -rf "$gobin"
  log "built in $(( $(date +%s) - start ))s -> $PROMTOOL_BIN"
}

case "${1:-}" in
  build) cmd_build ;;
  path) printf '%s\n' "$PROMTOOL_BIN" ;;
  *) echo "usage: $0 build|path" >&2; exit 2 ;;
esac
