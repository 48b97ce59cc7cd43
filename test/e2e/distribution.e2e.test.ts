// How platform teams get `check` without a clone of this repo: the npm
// tarball installed globally, the single executable on a machine with no
// Node, and the pre-commit hook; `audit` from the single executable against a
// real kube-apiserver.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpListenerPolicy } from '../support/builders.js';
import { REPO } from '../support/cli.js';
import { requireControlPlane, startControlPlane, type ControlPlane } from '../../harness/index.ts';
import { requireDebianTool } from '../support/debianTools.js';
import { sarifValidator } from '../support/sarifSchema.js';
import { create, ensureNamespaces, PATHS } from './support.js';

const run = promisify(execFile);
const VERSION: string = (await import('../../package.json', { with: { type: 'json' } })).default.version;
const SEA = join(REPO, `dist/sea/kgateway-admission-${process.platform}-${process.arch}`);
// Node 24 (the one running the tests) and the system's tools, nothing from the repo.
const NODE_PATH = `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;
const noControlPlane = await requireControlPlane();

/** Runs a program with exactly this environment (no PATH unless given). */
function runWith(program: string, args: string[], options: { env: Record<string, string>; cwd?: string; input?: string }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: options.env, cwd: options.cwd ?? REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'kga-dist-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  let prefix: string;
  let tarball: string;
  beforeAll(async () => {
    // dist/ is built once for the run (test/support/buildOnce.ts): the prepare
    // script would rebuild it under the feet of tests running the CLI beside this one.
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: REPO, maxBuffer: 16 << 20 });
    tarball = join(work, JSON.parse(stdout)[0].filename);
    prefix = join(work, 'prefix');
    // As a user would, but from npm's cache where `npm ci` filled it: the
    // registry is asked only for the package documents that `npm ci` never reads.
    await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: work, env: { ...process.env, PATH: NODE_PATH }, maxBuffer: 16 << 20 });
  }, 600_000);

  it('holds only what runs: compiled JavaScript, the config schema, package.json, the README and the LICENSE', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n');
    expect(files).toContain('package/dist/cli/main.js');
    expect(files).toContain('package/dist/config/config.schema.json');
    const others = files.filter((f) => !/^package\/dist\/.+\.js$/.test(f));
    expect(others.sort()).toEqual(['package/LICENSE', 'package/README.md', 'package/dist/config/config.schema.json', 'package/package.json']);
  });

  it('npm install -g puts a working kgateway-admission on PATH that checks the examples', async () => {
    const env = { PATH: `${prefix}/bin:${NODE_PATH}`, HOME: work };
    const version = await runWith('kgateway-admission', ['--version'], { env });
    expect(version.stdout).toBe(`${VERSION}\n`);
    const checked = await runWith('kgateway-admission', ['check', 'examples/'], { env });
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/15 objects: 14 allowed, 1 patched, 0 denied$/m);
  });

  describe('as a pre-commit hook', () => {
    const skip = requireDebianTool('pre-commit', 'pre-commit');
    it.skipIf(skip)('pre-commit runs check on the changed manifests, failing the commit on a denial', async () => {
      const repo = join(work, 'gitops');
      await mkdir(join(repo, 'manifests'), { recursive: true });
      const env = {
        PATH: `${prefix}/bin:${NODE_PATH}`,
        HOME: work,
        PRE_COMMIT_HOME: join(work, 'pre-commit-cache'),
        GIT_AUTHOR_NAME: 'test',
        GIT_AUTHOR_EMAIL: 'test@example.invalid',
        GIT_COMMITTER_NAME: 'test',
        GIT_COMMITTER_EMAIL: 'test@example.invalid',
      };
      const git = (...args: string[]) => run('git', args, { cwd: repo, env });
      await git('init', '-q');
      await git('-c', 'safe.directory=*', 'config', 'user.name', 'test');
      const tryRepo = () =>
        runWith('pre-commit', ['try-repo', REPO, 'kgateway-admission-check', '--verbose'], { env: { ...env, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' }, cwd: repo });

      await writeFile(join(repo, 'manifests/policy.yaml'), JSON.stringify(httpListenerPolicy({ name: 'ungranted' })));
      await writeFile(join(repo, 'README.md'), '# not a manifest\n');
      await git('add', '.');
      const denied = await tryRepo();
      expect(denied.code, denied.stdout + denied.stderr).toBe(1);
      expect(denied.stdout).toContain('kgateway-admission check');
      expect(denied.stdout).toMatch(/DENIED {3}HTTPListenerPolicy kgateway\/ungranted \(manifests\/policy\.yaml:1\)/);

      // The grant in the same change admits it.
      await writeFile(
        join(repo, 'manifests/grant.yaml'),
        ['apiVersion: gateway.networking.k8s.io/v1beta1', 'kind: ReferenceGrant', 'metadata: {name: logs, namespace: monitoring}', 'spec:',
          '  from: [{group: gateway.kgateway.dev, kind: HTTPListenerPolicy, namespace: kgateway}]', '  to: [{group: "", kind: Service}]', ''].join('\n'),
      );
      await git('add', '.');
      const admitted = await tryRepo();
      expect(admitted.code, admitted.stdout + admitted.stderr).toBe(0);
      expect(admitted.stdout).toMatch(/2 objects: 2 allowed, 0 patched, 0 denied/);
    }, 300_000);
  });
});

describe('the single executable (npm run sea)', () => {
  beforeAll(async () => {
    await run(process.execPath, [join(REPO, 'scripts/sea.mjs')], { cwd: REPO, maxBuffer: 16 << 20 });
  }, 900_000);

  it('is one file that runs check with an empty environment and no PATH, so no Node', async () => {
    expect((await stat(SEA)).isFile()).toBe(true);
    const version = await runWith(SEA, ['--version'], { env: {} });
    expect(version.stdout).toBe(`${VERSION}\n`);
    expect(version.stderr).toBe('');
    const checked = await runWith(SEA, ['check', 'examples/'], { env: {} });
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/15 objects: 14 allowed, 1 patched, 0 denied$/m);
    const denied = await runWith(SEA, ['check', '--output', 'sarif', '-'], { env: {}, input: JSON.stringify(httpListenerPolicy()) });
    expect(denied.code).toBe(1);
    const log = JSON.parse(denied.stdout);
    expect(sarifValidator()(log)).toBe(true);
    expect(log.runs[0].tool.driver.version).toBe(VERSION);
    expect(log.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri).toBe('%3Cstdin%3E');
  });

  it('holds no file beside it that it needs', async () => {
    // Moved alone into an empty folder, it still runs.
    const alone = join(work, 'alone');
    await mkdir(alone);
    const copy = join(alone, 'kgateway-admission');
    await run('cp', [SEA, copy]);
    expect(await readdir(alone)).toEqual(['kgateway-admission']);
    const { code, stdout } = await runWith(copy, ['check', '-'], { env: {}, cwd: alone, input: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }) });
    expect(code).toBe(0);
    expect(stdout).toContain('1 object: 1 allowed');
  });

  describe.skipIf(noControlPlane)('audit against a real kube-apiserver', () => {
    let cp: ControlPlane;
    beforeAll(async () => {
      cp = await startControlPlane();
      await ensureNamespaces(cp.kubeConfig, 'kgateway', 'monitoring');
    });
    afterAll(async () => {
      await cp?.stop();
    });

    it('lists the findings, as JUnit too, with an empty environment', async () => {
      expect((await create(cp.kubeConfig, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'ungranted' }))).status).toBe(201);
      const audit = (...args: string[]) => runWith(SEA, ['audit', '--kubeconfig', cp.kubeconfigPath, '--profile', 'kgateway-v2.1', ...args], { env: {} });
      const text = await audit();
      expect(text.code, text.stderr).toBe(1);
      expect(text.stdout).toContain('ungranted-reference    HTTPListenerPolicy kgateway/ungranted');
      const junit = await audit('--output', 'junit');
      expect(junit.code).toBe(1);
      expect(junit.stdout).toMatch(/<testsuite name="namespace kgateway" tests="\d+" failures="1"/);
      expect(junit.stdout).toContain('<failure message=');
    });
  });
});
