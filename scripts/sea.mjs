#!/usr/bin/env node
// Builds the CLI as a Node single executable application (SEA): one file that
// runs `check` and `audit` (and the rest) on a machine with no Node.
//
//   npm run sea        ->  dist/sea/kgateway-admission-linux-x64
//
// 1. esbuild-wasm bundles src/cli/commands.ts and every dependency into one
//    CommonJS file (Node 24's SEA runs one CommonJS script, no ES modules), with
//    the package version inlined: there is no package.json beside a SEA.
// 2. `node --experimental-sea-config` turns it into a preparation blob.
// 3. postject injects the blob into a copy of this Node binary, stripped (Node 24's
//    documented steps: https://nodejs.org/docs/latest-v24.x/api/single-executable-applications.html).
// The entry is commands.ts, not main.ts: main.ts only guards the Node version
// (the SEA carries its own Node 24) and awaits at the top level, which CommonJS cannot.
import { copyFile, chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild-wasm';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist/sea');
const NAME = `kgateway-admission-${process.platform}-${process.arch}`;
const require = createRequire(import.meta.url);
// Node's SEA fuse: the string the runtime looks for to know a blob was injected.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const started = Date.now();
const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
await rm(OUT, { recursive: true, force: true });
await mkdir(OUT, { recursive: true });

const bundle = join(OUT, 'kgateway-admission.cjs');
await build({
  entryPoints: [join(ROOT, 'src/cli/commands.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  minify: true,
  // Some dependencies read constructor and function names (error classes, fastify plugins).
  keepNames: true,
  legalComments: 'eof',
  logLevel: 'warning',
  define: { KGA_BUNDLED_VERSION: JSON.stringify(version) },
  // version.ts reads ../../package.json through import.meta.url only when
  // KGA_BUNDLED_VERSION is undefined, which it never is in this bundle.
  logOverride: { 'empty-import-meta': 'silent' },
});

const seaConfig = join(OUT, 'sea-config.json');
const blob = join(OUT, 'sea-prep.blob');
await writeFile(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: ['ignore', 'ignore', 'inherit'] });

const binary = join(OUT, NAME);
await copyFile(process.execPath, binary);
await chmod(binary, 0o755);
// Node's symbol table is a seventh of the binary (127 -> 109 MB); binutils' strip
// drops it where it is installed, and the binary runs the same without it.
const stripped = spawnSync('strip', [binary], { stdio: ['ignore', 'ignore', 'inherit'] }).status === 0;
const { inject } = require('postject');
await inject(binary, 'NODE_SEA_BLOB', await readFile(blob), { sentinelFuse: SEA_FUSE });
await rm(blob);
await rm(seaConfig);

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
process.stdout.write(
  `[sea] ${binary} (${mb((await stat(binary)).size)}${stripped ? ', stripped' : ', not stripped: no strip on PATH'}; bundle ${mb((await stat(bundle)).size)}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
