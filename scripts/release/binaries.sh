#!/usr/bin/env bash
# The single binary of this machine's platform (`npm run sea`: the CLI and
# Node 24 in one file), copied to $RELEASE_DIR with its SHA-256 and checked to
# run. The release workflow runs it on an x64 and an arm64 runner.
#
#   bash scripts/release/binaries.sh    -> $RELEASE_DIR/kgateway-admission-linux-x64 (+ .sha256)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
[ -d node_modules ] || die "no node_modules: bash scripts/release/setup.sh first"
npm run sea >&2
name="$(node -p '`kgateway-admission-${process.platform}-${process.arch}`')"
[ -x "dist/sea/$name" ] || die "npm run sea wrote no dist/sea/$name"
want="$(json_field package.json version)"
got="$(env -i "dist/sea/$name" --version)" || die "dist/sea/$name --version failed"
[ "$got" = "$want" ] || die "dist/sea/$name --version says '$got', package.json $want"
mkdir -p "$RELEASE_DIR"
cp "dist/sea/$name" "$RELEASE_DIR/$name"
(cd "$RELEASE_DIR" && sha256sum "$name" >"$name.sha256")
log "binary: $RELEASE_DIR/$name ($got)"
printf 'binary: %s\n' "$RELEASE_DIR/$name"
