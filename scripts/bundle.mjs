#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js) and every runtime dependency
// into one ES module, for the container image: the image then ships this file,
// package.json (read by --version as ../../package.json from the entry) and
// Node, not node_modules (issue 11: 253 MB -> under 160 MB).
//
//   node scripts/bundle.mjs [OUT]      (default: dist-bundle/cli/main.js)
//
// esbuild-wasm rather than esbuild: no platform binary, so it works where
// optional dependencies are omitted (the Dockerfile's `npm ci --omit=optional`)
// and on any architecture.
import { build } from 'esbuild-wasm';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(ROOT, process.argv[2] ?? 'dist-bundle/cli/main.js');

const result = await build({
  entryPoints: [resolve(ROOT, 'dist/cli/main.js')],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  minify: true,
  // Some dependencies read constructor and function names (error classes, fastify plugins).
  keepNames: true,
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
  // CommonJS dependencies call require() for Node built-ins; an ES module has none.
  banner: { js: "import { createRequire as __kgaCreateRequire } from 'node:module'; const require = __kgaCreateRequire(import.meta.url);" },
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stdout.write(`[bundle] ${out} (${(bytes / 1e6).toFixed(1)} MB)\n`);
