# Shared by the scripts of scripts/release/ (sourced, not run). The release
# workflow (.github/workflows/release.yml) runs nothing but these scripts, so
# every step of a release can be run, and is tested, on a machine with no CI:
# test/e2e/kind/registry.e2e.test.ts pushes to a registry on loopback with them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Where each script leaves what the next one reads (refs with digests) and
# what the GitHub release attaches (binaries, SBOM, signatures).
RELEASE_DIR="${RELEASE_DIR:-$ROOT/dist/release}"
IMAGE_NAME=kgateway-admission
CHART_DIR="$ROOT/charts/kgateway-admission"

log() { printf '[release] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# X.Y.Z from vX.Y.Z or X.Y.Z; refuses anything else.
version_arg() { # <tag or version>
  local v="${1#v}"
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "not a release version: '${1:-}' (vX.Y.Z or X.Y.Z)"
  printf '%s' "$v"
}

# A registry is HOST[:PORT][/PATH], no scheme, no trailing slash.
registry_arg() { # <registry>
  local r="${1:-}"
  [[ "$r" =~ ^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$ && "$r" != */ ]] \
    || die "not a registry: '$r' (HOST[:PORT][/PATH], e.g. ghcr.io/OWNER or 127.0.0.1:5000)"
  printf '%s' "$r"
}

# A registry on loopback is spoken to over plain HTTP (a test registry); any other over HTTPS.
is_loopback() { # <registry>
  [[ "$1" =~ ^(127\.[0-9.]+|localhost|\[::1\])(:[0-9]+)?(/|$) ]]
}

json_field() { # <file> <field>: a top-level string field of a JSON file
  node -e 'const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]]; if (typeof v !== "string") process.exit(1); process.stdout.write(v)' "$1" "$2"
}

yaml_field() { # <file> <top-level key>: its scalar value, unquoted
  sed -n "s/^$2:[[:space:]]*\"\{0,1\}\([^\"]*\)\"\{0,1\}[[:space:]]*\$/\1/p" "$1" | head -n1
}

# helm: $HELM, else the one on PATH, else the one scripts/control-plane.sh builds.
find_helm() {
  if [ -n "${HELM:-}" ]; then printf '%s' "$HELM"; return; fi
  if command -v helm >/dev/null 2>&1; then command -v helm; return; fi
  local built
  built="$(bash "$ROOT/scripts/control-plane.sh" node-paths | sed -n 's/^helm=//p')"
  [ -x "$built" ] || die "no helm: install it, set HELM, or run bash scripts/control-plane.sh build"
  printf '%s' "$built"
}
