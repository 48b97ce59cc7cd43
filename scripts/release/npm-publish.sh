#!/usr/bin/env bash
# Publishes the npm package (`npm install -g kgateway-admission`): what
# `npm pack` holds, with provenance where the release workflow's OIDC identity
# allows it. Extra arguments go to npm publish (--dry-run to see what it would do).
#
#   bash scripts/release/npm-publish.sh [--dry-run]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
[ -d node_modules ] || die "no node_modules: bash scripts/release/setup.sh first"
provenance=()
# npm can attest provenance only inside a supported CI with an OIDC token.
[ -n "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ] && provenance=(--provenance)
npm publish --access public "${provenance[@]}" "$@"
