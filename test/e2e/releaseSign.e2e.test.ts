// scripts/release/sign.sh with a real cosign (built from its Go module by
// scripts/cosign.sh) against a real registry on loopback (the distribution
// registry of scripts/registry.sh): the chart pushed by chart.sh is signed by
// digest, a file as a blob, and `cosign verify` / `verify-blob` accept them
// with the public key. The release workflow signs keyless (its OIDC identity);
// a key pair is what this machine can have, and the script's path is the same.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts, REPO_ROOT } from '../../harness/index.ts';
import { helmBinary } from '../chart/support.js';
import { pollUntil } from './support.js';

interface Result { code: number | null; output: string }
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 1_800_000): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.on('error', (e) => (output += `\n${e.message}`));
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('sign.sh with cosign and a registry on loopback', () => {
  let work = '';
  let addr = '';
  let registry: ChildProcess | undefined;
  let env: NodeJS.ProcessEnv = {};
  let cosign = '';
  let chartRef = '';

  beforeAll(async () => {
    for (const script of ['registry.sh', 'cosign.sh']) {
      const built = await run('bash', [`scripts/${script}`, 'build']);
      if (built.code !== 0) throw new Error(`bash scripts/${script} build failed:\n${built.output.slice(-3000)}`);
    }
    cosign = (await run('bash', ['scripts/cosign.sh', 'path'])).output.trim();
    work = await mkdtemp(join(tmpdir(), 'kga-release-sign-'));
    await mkdir(join(work, 'bin'));
    await symlink(cosign, join(work, 'bin', 'cosign'));
    const [port] = await freePorts(1);
    addr = `127.0.0.1:${port}`;
    registry = spawn('bash', ['scripts/registry.sh', 'serve', addr, join(work, 'registry')], { cwd: REPO_ROOT, stdio: 'ignore' });
    await pollUntil('the registry to answer /v2/', async () => {
      try {
        return (await fetch(`http://${addr}/v2/`)).status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    }, 30_000, 200);
    env = {
      ...process.env,
      PATH: `${join(work, 'bin')}:${process.env.PATH}`,
      HELM: await helmBinary(),
      RELEASE_DIR: join(work, 'release'),
      COSIGN_KEY: join(work, 'cosign.key'),
      COSIGN_PASSWORD: '',
      // cosign's TUF cache and config stay in the test's folder.
      HOME: work,
      TUF_ROOT: join(work, 'tuf'),
    };
    const keys = await run(cosign, ['generate-key-pair', '--output-key-prefix', join(work, 'cosign')], env, 60_000);
    if (keys.code !== 0) throw new Error(`cosign generate-key-pair: ${keys.output}`);
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const chart = await run('bash', ['scripts/release/chart.sh', addr, version, `sha256:${'e'.repeat(64)}`], env, 300_000);
    if (chart.code !== 0) throw new Error(`chart.sh: ${chart.output}`);
    chartRef = (await readFile(join(work, 'release', 'chart.ref'), 'utf8')).trim();
  }, 2_400_000);

  afterAll(async () => {
    registry?.kill('SIGTERM');
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('signs the pushed chart by digest and a file as a blob; cosign verifies both with the public key, and refuses a changed file', async () => {
    const blob = join(work, 'release', 'kgateway-admission-linux-x64');
    await writeFile(blob, 'a stand-in for the single binary\n');
    const signed = await run('bash', ['scripts/release/sign.sh', join(work, 'release', 'chart.ref'), blob], env, 300_000);
    expect(signed.code, signed.output).toBe(0);

    const [, name, digest] = /^oci:\/\/([^@]+):[^:@/]+@(sha256:[0-9a-f]{64})$/.exec(chartRef)!;
    // The signature sits in the registry beside the chart, under cosign's tag for the digest.
    const tags = (await (await fetch(`http://${addr}/v2/charts/kgateway-admission/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toContain(`${digest!.replace(':', '-')}.sig`);
    const verified = await run(cosign, ['verify', '--key', join(work, 'cosign.pub'), '--insecure-ignore-tlog=true', '--allow-http-registry', '--allow-insecure-registry', `${name}@${digest}`], env, 120_000);
    expect(verified.code, verified.output).toBe(0);
    expect(verified.output).toContain(`"docker-manifest-digest":"${digest}"`);

    const blobVerified = await run(cosign, ['verify-blob', '--key', join(work, 'cosign.pub'), '--insecure-ignore-tlog=true', '--bundle', `${blob}.sigstore.json`, blob], env, 120_000);
    expect(blobVerified.code, blobVerified.output).toBe(0);
    expect(blobVerified.output).toContain('Verified OK');
    await writeFile(blob, 'a changed binary\n');
    const tampered = await run(cosign, ['verify-blob', '--key', join(work, 'cosign.pub'), '--insecure-ignore-tlog=true', '--bundle', `${blob}.sigstore.json`, blob], env, 120_000);
    expect(tampered.code).not.toBe(0);
  }, 600_000);
});
