#!/usr/bin/env bash
# The npm package a release publishes: what `npm pack` holds (package.json's
# `files`: dist/**/*.js and the config schema, README, LICENSE), with a
# package.json a user's `npm install -g` needs nothing more from: no `scripts`
# (the repository's `prepare` builds dist/ in a clone; npm 11 would warn every
# installer about it as an install script not allowed) and no devDependencies.
#
#   bash scripts/release/npm-pack.sh    -> $RELEASE_DIR/npm-kgateway-admission-VERSION.tgz
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
[ -f dist/cli/main.js ] || die "no dist/: bash scripts/release/setup.sh first (npm ci builds it)"
mkdir -p "$RELEASE_DIR"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
packed="$(npm pack --ignore-scripts --json --pack-destination "$work" | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8"))[0].filename')"
tar -xzf "$work/$packed" -C "$work"
node -e '
  const fs = require("fs");
  const file = process.argv[1];
  const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  delete pkg.scripts;
  delete pkg.devDependencies;
  fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
' "$work/package/package.json"
version="$(json_field "$work/package/package.json" version)"
out="$RELEASE_DIR/npm-$IMAGE_NAME-$version.tgz"
repacked="$(cd "$work/package" && npm pack --ignore-scripts --json --pack-destination "$work" | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8"))[0].filename')"
mv "$work/$repacked" "$out"
log "npm package: $out"
printf 'package: %s\n' "$out"
