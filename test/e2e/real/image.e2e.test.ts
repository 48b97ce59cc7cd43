// The container image, built for real by `npm run image:build` (docker where an
// engine answers, else podman with local stand-in bases): the archive for
// kind/containerd holds it under its full name, it stays under 160 MB, and it
// runs like the chart runs it (uid 65532, read-only root, no capabilities,
// no-new-privileges, 256 MiB) and answers /healthz and a mutation.
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway } from '../../support/builders.js';
import { freePorts, generateServingCert, REPO_ROOT } from '../../../harness/index.ts';
import { httpsRequest } from '../../support/https.js';
import { pollUntil } from '../support.js';
import { skipRealE2e } from './gate.js';

const execFileP = promisify(execFile);
const skip = skipRealE2e('the image build (npm run image:build)');

/** Runs a command, resolving with its exit code and combined output. */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function engine(): Promise<{ bin: string; runArgs: string[] }> {
  try {
    await execFileP('docker', ['info'], { timeout: 10_000 });
    return { bin: 'docker', runArgs: [] };
  } catch {
    // runc, not crun (hybrid cgroups); runc here cannot raise rlimits: explicit lower ones.
    return { bin: 'podman', runArgs: ['--runtime', 'runc', '--ulimit', 'nofile=16384:16384', '--ulimit', 'nproc=4096:4096'] };
  }
}

describe.skipIf(skip)('the container image, built for real', () => {
  let build: { code: number | null; output: string; ms: number };
  let image = '';
  let archive = '';
  let sizeMb = 0;

  beforeAll(async () => {
    const t0 = performance.now();
    build = { ...(await run('bash', ['scripts/image-build.sh'], 1_800_000)), ms: performance.now() - t0 };
    image = /^image: (.+)$/m.exec(build.output)?.[1] ?? '';
    archive = /^archive: (.+)$/m.exec(build.output)?.[1] ?? '';
    sizeMb = Number(/^size: (\d+) MB$/m.exec(build.output)?.[1] ?? NaN);
    process.stderr.write(`[e2e] npm run image:build: ${(build.ms / 1000).toFixed(0)} s, ${sizeMb} MB\n`);
  }, 1_800_000);

  it('builds, and writes an archive that names the image fully (for kind load / ctr import)', async () => {
    expect(build.code, build.output.slice(-4000)).toBe(0);
    const chart = await readFile(join(REPO_ROOT, 'charts/kgateway-admission/Chart.yaml'), 'utf8');
    const appVersion = /^appVersion:\s*"?([^"\n]+)"?/m.exec(chart)?.[1];
    expect(image).toBe(`docker.io/library/kgateway-admission:${appVersion}`);
    const { stdout } = await execFileP('tar', ['-xOf', archive, 'manifest.json']);
    const manifest = JSON.parse(stdout) as { RepoTags: string[] }[];
    expect(manifest.flatMap((m) => m.RepoTags)).toContain(image);
  });

  it('is under 160 MB', () => {
    expect(sizeMb).toBeGreaterThan(0);
    expect(sizeMb).toBeLessThanOrEqual(160);
  });

  describe('run as the chart runs it', () => {
    const name = `kga-image-e2e-${process.pid}`;
    let eng: { bin: string; runArgs: string[] };
    let certDir = '';
    let caPem = '';
    let url = '';

    beforeAll(async () => {
      eng = await engine();
      const certs = await generateServingCert();
      caPem = certs.caPem;
      certDir = await mkdtemp(join(tmpdir(), 'kga-image-e2e-'));
      await writeFile(join(certDir, 'tls.crt'), certs.certPem);
      await writeFile(join(certDir, 'tls.key'), certs.keyPem);
      // Readable by uid 65532 inside the container (a throwaway test key).
      await chmod(certDir, 0o755);
      await chmod(join(certDir, 'tls.key'), 0o644);
      const [port, metricsPort] = await freePorts(2);
      url = `https://127.0.0.1:${port}`;
      // Host network: loopback only, and no port-forwarding rules on the host.
      await execFileP(eng.bin, [
        'run', '-d', '--name', name, ...eng.runArgs,
        '--network', 'host', '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--memory', '256m',
        '-v', `${certDir}:/certs:ro`, '-v', `${join(REPO_ROOT, 'examples')}:/examples:ro`,
        image,
        'serve', '--host', '127.0.0.1', '--port', String(port), '--metrics-port', String(metricsPort),
        '--tls-cert', '/certs/tls.crt', '--tls-key', '/certs/tls.key', '--manifests', '/examples', '--profile', 'kgateway-v2.1',
      ]);
    }, 120_000);

    afterAll(async () => {
      if (eng) await execFileP(eng.bin, ['rm', '-f', name]).catch(() => undefined);
      if (certDir) await rm(certDir, { recursive: true, force: true });
    });

    it('answers /healthz, and its process runs as uid 65532 on a read-only root', async () => {
      const t0 = performance.now();
      await pollUntil('/healthz to answer 200', async () => {
        try {
          return (await httpsRequest(`${url}/healthz`, { ca: caPem })).status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      }, 30_000, 100);
      process.stderr.write(`[e2e] image: /healthz answered ${(performance.now() - t0).toFixed(0)} ms after the run\n`);
      const { stdout: pid } = await execFileP(eng.bin, ['inspect', '--format', '{{.State.Pid}}', name]);
      const status = await readFile(`/proc/${pid.trim()}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)\s+(\d+)/m.exec(status)?.slice(1, 3)).toEqual(['65532', '65532']);
      expect(/^CapEff:\s+(\w+)/m.exec(status)?.[1]).toBe('0000000000000000');
      const rootMount = (await readFile(`/proc/${pid.trim()}/mountinfo`, 'utf8')).split('\n').find((l) => l.split(' ')[4] === '/');
      expect(rootMount?.split(' ')[5]?.split(',')).toContain('ro');
    });

    it('mutates an agentgateway Gateway', async () => {
      const review = await httpsRequest(`${url}/mutate`, {
        ca: caPem,
        body: JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { uid: 'image-e2e', kind: { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'Gateway' }, operation: 'CREATE', namespace: 'kgateway', object: gateway() },
        }),
      });
      expect(review.status, review.text).toBe(200);
      const response = review.json().response;
      expect(response.allowed).toBe(true);
      const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as { path: string; value: unknown }[];
      expect(JSON.stringify(patch)).toContain('agentgateway-otel');
    });

    it('prints its version (package.json beside the bundle, read at runtime)', async () => {
      const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
      const res = await run(eng.bin, ['run', '--rm', ...eng.runArgs, '--network', 'none', image, '--version'], 60_000);
      expect(res.code, res.output).toBe(0);
      expect(res.output.trim()).toBe(pkg.version);
    });

    it('has no shell', async () => {
      const res = await run(eng.bin, ['run', '--rm', ...eng.runArgs, '--network', 'none', '--entrypoint', '/bin/sh', image, '-c', 'true'], 60_000);
      expect(res.code, res.output).not.toBe(0);
    });
  });
});
