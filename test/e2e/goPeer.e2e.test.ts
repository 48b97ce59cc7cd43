// The bench's Go peer (bench/peers/controller-runtime, on controller-runtime's
// webhook.Server) must give the same answers as ours on every admission
// fixture, or comparing their speed says nothing. Both run as processes on the
// same certificate and examples/ manifests; every fixture goes to /mutate and
// /validate of each.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureGoPeer, goPeerArgs } from '../../bench/peers/goPeer.ts';
import { REPO } from '../support/cli.js';
import { freePorts, generateServingCert } from '../../harness/index.ts';
import { httpsRequest, type HttpsResponse } from '../support/https.js';

const FIXTURES = join(REPO, 'test/fixtures/admission');

async function goPeerOrSkip(): Promise<{ path?: string; skip?: string }> {
  const peer = await ensureGoPeer({ log: (line) => process.stderr.write(`[go-peer] ${line}\n`) });
  if (peer.ok) return { path: peer.path };
  if (!peer.goMissing || process.env.CI === 'true') throw new Error(`the Go peer cannot run: ${peer.reason}`);
  process.stderr.write(`\n!!! SKIPPING the Go peer equivalence test: ${peer.reason}. It needs Go (as the control plane does) !!!\n\n`);
  return { skip: peer.reason };
}
const peer = await goPeerOrSkip();

interface Answer {
  httpStatus: number;
  uid: unknown;
  allowed: unknown;
  code: unknown;
  patch: unknown;
}

function answerOf(res: HttpsResponse): Answer {
  const response = res.json().response ?? {};
  return {
    httpStatus: res.status,
    uid: response.uid,
    allowed: response.allowed,
    // An allowed answer without a status is a 200 to kube-apiserver;
    // controller-runtime writes that 200 out, ours leaves it implicit.
    code: response.status?.code ?? 200,
    patch: response.patch === undefined ? null : { type: response.patchType, ops: JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) },
  };
}

describe.skipIf(peer.skip)('Go peer (controller-runtime) against ours, every fixture of test/fixtures/admission', () => {
  let dir: string;
  let caPem: string;
  const children: ChildProcess[] = [];
  const urls = { ours: '', go: '' };
  let goStdout = '';

  async function waitReady(url: string, child: ChildProcess, name: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
      try {
        if ((await httpsRequest(`${url}/readyz`, { ca: caPem })).status === 200) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`${name} not ready after 30 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kga-go-peer-'));
    const certs = await generateServingCert({ ips: ['127.0.0.1'] });
    caPem = certs.caPem;
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    await writeFile(certFile, certs.certPem);
    await writeFile(keyFile, certs.keyPem);
    const [oursPort, metricsPort, goPort] = await freePorts(3);
    const ours = spawn(process.execPath, [
      join(REPO, 'dist/cli/main.js'), 'serve', '--manifests', join(REPO, 'examples'), '--host', '127.0.0.1', '--port', String(oursPort),
      '--metrics-port', String(metricsPort), '--tls-cert', certFile, '--tls-key', keyFile,
    ], { stdio: 'ignore' });
    const go = spawn(peer.path!, goPeerArgs({ port: goPort!, certFile, keyFile }), { stdio: ['ignore', 'pipe', 'inherit'] });
    go.stdout!.on('data', (c: Buffer) => (goStdout += c.toString('utf8')));
    children.push(ours, go);
    urls.ours = `https://127.0.0.1:${oursPort}`;
    urls.go = `https://127.0.0.1:${goPort}`;
    await Promise.all([waitReady(urls.ours, ours, 'ours'), waitReady(urls.go, go, 'the Go peer')]);
  });

  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('allowed, status code and decoded patch match on /mutate and /validate, and the Go peer logs one line per decision', async () => {
    const files = (await readdir(FIXTURES)).filter((f) => f.endsWith('.json')).sort();
    const seen = { patchedWhole: 0, patchedRef: 0, unpatched: 0, denied: 0, granted: 0 };
    let sent = 0;
    for (const file of files) {
      const body = await readFile(join(FIXTURES, file), 'utf8');
      const uid = JSON.parse(body).request.uid;
      for (const endpoint of ['mutate', 'validate'] as const) {
        const [ours, go] = await Promise.all([
          httpsRequest(`${urls.ours}/${endpoint}`, { body, ca: caPem }).then(answerOf),
          httpsRequest(`${urls.go}/${endpoint}`, { body, ca: caPem }).then(answerOf),
        ]);
        sent++;
        expect(go, `${file} on /${endpoint}`).toEqual(ours);
        expect(ours.uid, `${file} on /${endpoint}`).toBe(uid);
        if (endpoint === 'mutate') {
          const path = (ours.patch as { ops: { path: string }[] } | null)?.ops[0]?.path;
          if (path === '/spec/infrastructure') seen.patchedWhole++;
          else if (path === '/spec/infrastructure/parametersRef') seen.patchedRef++;
          else if (JSON.parse(body).request.kind.kind === 'Gateway') seen.unpatched++;
        } else if (ours.allowed === false) {
          expect(ours.code, `${file} on /validate`).toBe(403);
          seen.denied++;
        } else if (JSON.parse(body).request.kind.kind !== 'Gateway') {
          seen.granted++;
        }
      }
    }
    // The fixtures cover every branch of both rules, so agreement above means something.
    expect(seen.patchedWhole).toBeGreaterThanOrEqual(2);
    expect(seen.patchedRef).toBeGreaterThanOrEqual(1);
    expect(seen.unpatched).toBeGreaterThanOrEqual(2);
    expect(seen.denied).toBeGreaterThanOrEqual(3);
    expect(seen.granted).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 100));
    const decisions = goStdout.split('\n').filter((line) => line.includes('"msg":"admission decision"'));
    expect(decisions).toHaveLength(sent);
    for (const line of decisions) expect(JSON.parse(line)).toMatchObject({ level: 'info' });
  });
});
