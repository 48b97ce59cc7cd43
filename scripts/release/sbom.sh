#!/usr/bin/env bash
# The SBOM of a release: every package the CLI, the image and the binaries run
# (npm's production dependency tree, as locked; no devDependencies), SPDX 2.3
# JSON, from `npm sbom`. The binaries and the image add Node itself (the
# Dockerfile's NODE_VERSION), named in the document's comment.
#
#   bash scripts/release/sbom.sh        -> $RELEASE_DIR/kgateway-admission.spdx.json
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
[ -d node_modules ] || die "no node_modules: bash scripts/release/setup.sh first"
mkdir -p "$RELEASE_DIR"
out="$RELEASE_DIR/$IMAGE_NAME.spdx.json"
node_version="$(sed -n 's/^ARG NODE_VERSION=//p' Dockerfile | head -n1)"
# npm sbom --omit dev (npm 11.19) leaves out production packages that a
# devDependency also depends on (ajv, yaml): take the whole tree's SBOM and keep
# the packages `npm ls --omit dev` lists.
npm sbom --sbom-format spdx --sbom-type application >"$out.tmp" || { rm -f "$out.tmp"; die "npm sbom failed"; }
npm ls --omit dev --all --json >"$out.prod" || { rm -f "$out.tmp" "$out.prod"; die "npm ls failed"; }
node -e '
  const fs = require("fs");
  const [file, prodFile, nodeVersion] = process.argv.slice(1);
  const doc = JSON.parse(fs.readFileSync(file, "utf8"));
  const prod = new Set();
  const walk = (deps) => { for (const [name, d] of Object.entries(deps ?? {})) { if (d.version && !prod.has(`${name}@${d.version}`)) { prod.add(`${name}@${d.version}`); walk(d.dependencies); } } };
  const tree = JSON.parse(fs.readFileSync(prodFile, "utf8"));
  walk(tree.dependencies);
  const root = doc.documentDescribes[0];
  const kept = doc.packages.filter((p) => p.SPDXID === root || prod.has(`${p.name}@${p.versionInfo}`));
  const ids = new Set(kept.map((p) => p.SPDXID));
  doc.packages = kept;
  doc.relationships = doc.relationships.filter((r) => (r.spdxElementId === "SPDXRef-DOCUMENT" || ids.has(r.spdxElementId)) && ids.has(r.relatedSpdxElement));
  doc.comment = `Production dependencies only. The image and the single binaries also carry Node.js ${nodeVersion}.`;
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + "\n");
' "$out.tmp" "$out.prod" "$node_version"
rm -f "$out.prod"
mv "$out.tmp" "$out"
log "SBOM: $out ($(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).packages.length)' "$out") packages)"
printf 'sbom: %s\n' "$out"
