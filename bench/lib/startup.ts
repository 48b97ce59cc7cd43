// Part 4: time from process start to ready (GET /readyz answers 200) with the
// embedded default (`serve --manifests examples/`, default config), beside
// Node's own start-up (`node -e 0`) on the same binary.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, httpsStatus, median, REPO_ROOT, round, sleep } from './util.ts';

async function timeToReady(args: string[], { pollMs = 2 }: { pollMs?: number } = {}): Promise<number> {
  const port = await freePort();
  const metricsPort = await freePort();
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...args, '--host', '127.0.0.1', '--port', String(port), '--metrics-port', String(metricsPort)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', openSync('/dev/null', 'a'), 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let exited = false;
  child.on('exit', () => (exited = true));
  try {
    for (;;) {
      if (exited) throw new Error(`server exited before ready: ${stderr.slice(-1000)}`);
      if ((await httpsStatus(`https://127.0.0.1:${port}/readyz`, 1000)) === 200) break;
      await sleep(pollMs);
    }
    return Number(process.hrtime.bigint() - started) / 1e6;
  } finally {
    const done = new Promise<void>((resolve) => (exited ? resolve() : child.once('exit', () => resolve())));
    child.kill('SIGTERM');
    await done;
  }
}

async function nodeBaseline(): Promise<number> {
  const started = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    child.on('exit', resolve);
    child.on('error', reject);
  });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export interface StartupFigures {
  runs: number;
  median_ms: number;
  max_ms: number;
}

export async function startupPart({ runs, certFile, keyFile }: { runs: number; certFile: string; keyFile: string }): Promise<Record<'ready' | 'ready_generating_certs' | 'node_baseline', StartupFigures>> {
  const main = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');
  const manifests = path.join(REPO_ROOT, 'examples');
  const withCerts = [];
  const generating = [];
  const bare = [];
  await timeToReady([main, 'serve', '--manifests', manifests, '--tls-cert', certFile, '--tls-key', keyFile]); // warm the page cache
  for (let i = 0; i < runs; i++) {
    bare.push(await nodeBaseline());
    withCerts.push(await timeToReady([main, 'serve', '--manifests', manifests, '--tls-cert', certFile, '--tls-key', keyFile]));
    if (i < Math.max(1, Math.floor(runs / 3))) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'kga-bench-certs-'));
      try {
        generating.push(await timeToReady([main, 'serve', '--manifests', manifests, '--certs-dir', dir]));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const summary = (xs: number[]): StartupFigures => ({ runs: xs.length, median_ms: round(median(xs), 1), max_ms: round(Math.max(...xs), 1) });
  return { ready: summary(withCerts), ready_generating_certs: summary(generating), node_baseline: summary(bare) };
}
