#!/usr/bin/env bash
# The OCI registry of the CNCF `distribution` project (the code behind Docker
# Hub's and GitHub's registries), built from its Go module, for proving the
# release path locally: images pushed with podman, charts with `helm push`,
# pulled by the kind node's containerd (test/e2e/kind/registry.e2e.test.ts).
#
#   bash scripts/registry.sh build                 # build (or reuse) the binary
#   bash scripts/registry.sh path                  # print the binary's path (built or not)
#   bash scripts/registry.sh serve ADDR DIR        # serve on ADDR (e.g. 127.0.0.1:5000), storing in DIR; foreground
#
# Like scripts/control-plane.sh: ${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}/bin,
# with the version in the file name, so a version bump rebuilds and anything else reuses.
# Plain HTTP: it is meant for loopback only (podman and helm are told so with
# --tls-verify=false / --plain-http; containerd by a hosts.toml: scripts/kind.sh registry ADDR).
set -euo pipefail

DISTRIBUTION_VERSION="v3.1.2"
. "$(dirname "$0")/lib/go-tool.sh"
REGISTRY_BIN="$BIN_DIR/registry-$DISTRIBUTION_VERSION"

log() { printf '[registry] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cmd_build() {
  go_tool_build registry "$REGISTRY_BIN" "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION_VERSION" \
    "-s -w -X github.com/distribution/distribution/v3/version.version=$DISTRIBUTION_VERSION"
}

# Writes a minimal configuration (filesystem storage, no auth, deletes allowed,
# no debug server) and runs the registry in the foreground until killed.
cmd_serve() { # <addr> <dir>
  local addr="${1:-}" dir="${2:-}"
  [ -n "$addr" ] && [ -n "$dir" ] || die "usage: registry.sh serve ADDR DIR (e.g. 127.0.0.1:5000 /tmp/registry)"
  [ -x "$REGISTRY_BIN" ] || die "$REGISTRY_BIN is missing: bash scripts/registry.sh build"
  mkdir -p "$dir/storage"
  cat >"$dir/config.yml" <<CONFIG
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: $addr
CONFIG
  # OTEL tracing is on by default in v3; nothing collects it here.
  export OTEL_TRACES_EXPORTER=none
  exec "$REGISTRY_BIN" serve "$dir/config.yml"
}

case "${1:-}" in
  build) cmd_build ;;
  path) printf '%s\n' "$REGISTRY_BIN" ;;
  serve) shift; cmd_serve "$@" ;;
  *) echo "usage: $0 build|path|serve ADDR DIR" >&2; exit 2 ;;
esac
