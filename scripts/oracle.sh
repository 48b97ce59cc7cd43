#!/usr/bin/env bash
# The real controllers as an oracle (docs/testing.md, "Oracle"): builds kgateway and agentgateway
# controllers from their Go modules and records their verdicts on our cases into
# test/fixtures/oracle/*.json, which a unit test compares with our rules. Never part of CI (.ci/run):
# a cold build takes ~20 min per controller.
#
#   bash scripts/oracle.sh build    # build (or reuse) both controllers
#   bash scripts/oracle.sh record   # build our server, run the controllers one after the other against the test API server, write fixtures
#                                   # (KGA_ORACLE_ONLY=kgateway|agentgateway: one, keeping the other's cases)
#   bash scripts/oracle.sh          # both
#
# Binaries go to ${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}/oracle/bin with the version in the name.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${KGA_TOOLS_DIR:-$HOME/.cache/kgateway-admission}"
ORACLE_DIR="$TOOLS_DIR/oracle"
BIN_DIR="$ORACLE_DIR/bin"
SRC_DIR="$ORACLE_DIR/src"

KGATEWAY_VERSION="${KGA_ORACLE_KGATEWAY_VERSION:-v2.4.2}"
AGENTGATEWAY_VERSION="${KGA_ORACLE_AGENTGATEWAY_VERSION:-v1.4.1}"
# agentgateway's go.mod replaces its nested api/ module with ./api, which the module zip leaves out and
# the module proxy does not serve: take api/ from a git checkout of the upstream repository at the tag.
AGENTGATEWAY_GIT_DIR="${KGA_ORACLE_AGENTGATEWAY_GIT_DIR:-}"

log() { printf '[oracle] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

GO="$(command -v go || echo /usr/local/go/bin/go)"
# The recorder is TypeScript run as it is: Node 24 (the repository's, after npm ci).
NODE="$ROOT/node_modules/.bin/node"
[ -x "$NODE" ] || NODE="$(command -v node)"
[ -x "$GO" ] || die "go not found"

KGATEWAY_BIN="$BIN_DIR/kgateway-$KGATEWAY_VERSION"
AGENTGATEWAY_BIN="$BIN_DIR/agentgateway-controller-$AGENTGATEWAY_VERSION"

# Writable copy of a module version out of the module cache (the cache is read-only).
module_copy() { # <module path> <version> <dest>
  local mod="$1" ver="$2" dest="$3" dir
  if [ -f "$dest/go.mod" ]; then return 0; fi
  dir="$(cd /tmp && GOFLAGS=-mod=mod "$GO" mod download -json "$mod@$ver" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] && [ -d "$dir" ] || die "go mod download $mod@$ver gave no directory"
  rm -rf "$dest.tmp" && mkdir -p "$(dirname "$dest")"
  cp -r "$dir" "$dest.tmp" && chmod -R u+w "$dest.tmp" && mv "$dest.tmp" "$dest"
}

build_kgateway() {
  if [ -x "$KGATEWAY_BIN" ]; then log "reuse $KGATEWAY_BIN"; return 0; fi
  local src="$SRC_DIR/kgateway-$KGATEWAY_VERSION"
  module_copy github.com/kgateway-dev/kgateway/v2 "$KGATEWAY_VERSION" "$src"
  log "building kgateway $KGATEWAY_VERSION (cold: ~20 min)"
  mkdir -p "$BIN_DIR"
  (cd "$src" && CGO_ENABLED=0 nice -n 19 "$GO" build -o "$KGATEWAY_BIN.tmp" ./cmd/kgateway) && mv "$KGATEWAY_BIN.tmp" "$KGATEWAY_BIN"
}

build_agentgateway() {
  if [ -x "$AGENTGATEWAY_BIN" ]; then log "reuse $AGENTGATEWAY_BIN"; return 0; fi
  local src="$SRC_DIR/agentgateway-$AGENTGATEWAY_VERSION"
  module_copy github.com/agentgateway/agentgateway "$AGENTGATEWAY_VERSION" "$src"
  if [ ! -f "$src/api/go.mod" ]; then
    [ -n "$AGENTGATEWAY_GIT_DIR" ] || die "set KGA_ORACLE_AGENTGATEWAY_GIT_DIR to a git dir of github.com/agentgateway/agentgateway (api/ is not in the module zip)"
    git --git-dir="$AGENTGATEWAY_GIT_DIR" archive "$AGENTGATEWAY_VERSION" api | tar -x -C "$src"
  fi
  log "building agentgateway controller $AGENTGATEWAY_VERSION (~15 min after kgateway)"
  mkdir -p "$BIN_DIR"
  (cd "$src" && CGO_ENABLED=0 nice -n 19 "$GO" build -o "$AGENTGATEWAY_BIN.tmp" ./controller/cmd/agentgateway) && mv "$AGENTGATEWAY_BIN.tmp" "$AGENTGATEWAY_BIN"
}

record() {
  # One controller built and not the other: record that one (KGA_ORACLE_ONLY), keeping the other's recorded cases.
  if [ -z "${KGA_ORACLE_ONLY:-}" ]; then
    if [ -x "$KGATEWAY_BIN" ] && [ ! -x "$AGENTGATEWAY_BIN" ]; then export KGA_ORACLE_ONLY=kgateway; log "agentgateway not built: recording kgateway only"; fi
    if [ ! -x "$KGATEWAY_BIN" ] && [ -x "$AGENTGATEWAY_BIN" ]; then export KGA_ORACLE_ONLY=agentgateway; log "kgateway not built: recording agentgateway only"; fi
  fi
  [ -x "$KGATEWAY_BIN" ] || [ -x "$AGENTGATEWAY_BIN" ] || die "build first: bash scripts/oracle.sh build"
  # The team-namespace-copy case runs our own server (dist/cli/main.js serve) with copies on.
  log "building our server (npm run build)"
  (cd "$ROOT" && PATH="$ROOT/node_modules/.bin:$PATH" npm run --silent build) >&2
  KGA_ORACLE_KGATEWAY_BIN="$KGATEWAY_BIN" KGA_ORACLE_AGENTGATEWAY_BIN="$AGENTGATEWAY_BIN" \
  KGA_ORACLE_KGATEWAY_VERSION="$KGATEWAY_VERSION" KGA_ORACLE_AGENTGATEWAY_VERSION="$AGENTGATEWAY_VERSION" \
  KGA_ORACLE_KGATEWAY_SRC="$SRC_DIR/kgateway-$KGATEWAY_VERSION" KGA_ORACLE_AGENTGATEWAY_SRC="$SRC_DIR/agentgateway-$AGENTGATEWAY_VERSION" \
    "$NODE" "$ROOT/scripts/oracle-record.ts"
}

case "${1:-all}" in
  build) build_kgateway; build_agentgateway ;;
  record) record ;;
  all) build_kgateway; build_agentgateway; record ;;
  *) die "usage: $0 [build|record|all]" ;;
esac
