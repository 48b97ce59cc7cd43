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
. "$(dirname "$0")/lib/go-tool.sh"
COSIGN_BIN="$BIN_DIR/cosign-$COSIGN_VERSION"

cmd_build() {
  go_tool_build cosign "$COSIGN_BIN" "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION" \
    "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION"
}

case "${1:-}" in
  build) cmd_build ;;
  path) printf '%s\n' "$COSIGN_BIN" ;;
  *) echo "usage: $0 build|path" >&2; exit 2 ;;
esac
