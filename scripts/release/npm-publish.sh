#!/usr/bin/env bash
# Publishes the npm package npm-pack.sh made (`npm install -g kgateway-admission`),
# with provenance where the release workflow's OIDC identity allows it. Extra
# arguments go to npm publish (--dry-run to see what it would do).
#
#   bash scripts/release/npm-publish.sh [--dry-run]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
version="$(json_field package.json version)"
package="$RELEASE_DIR/npm-$IMAGE_NAME-$version.tgz"
[ -f "$package" ] || die "no $package: bash scripts/release/npm-pack.sh first"
provenance=()
# npm can attest provenance only inside a supported CI with an OIDC token.
[ -n "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ] && provenance=(--provenance)
npm publish "$package" --access public "${provenance[@]}" "$@"
