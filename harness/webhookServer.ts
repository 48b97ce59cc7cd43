// Our webhook server (`node dist/cli/main.js serve --kubeconfig`) as a child
// process with a fresh serving certificate on free ports.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';

import { generateServingCert, type ServingCert } from './certificates.ts';
import { freePorts } from './ports.ts';
import { isRunning, killAndWait, spawnLogged, tail, track, untrack, type Owned } from './processes.ts';
import { REPO_ROOT } from './repoRoot.ts';
import { waitFor } from './wait.ts';

export interface StartWebhookServerOptions {
  kubeconfigPath: string;
  /** Appended after the standard `serve` flags. */
  extraArgs?: string[];
  /** Added to process.env for the child. */
  env?: Record<string, string>;
  /** Default 60 s. */
  readyTimeoutMs?: number;
  /** Default <repo>/dist/cli/main.js. */
  entry?: string;
  /** Directory for tls.crt/tls.key/ca.crt/webhook.log (default: fresh temp dir, removed on stop). */
  dir?: string;
  /** Reuse these certs instead of generating a fresh CA + serving cert. */
  certs?: ServingCert;
  port?: number;
  metricsPort?: number;
  detached?: boolean;
}

export interface WebhookServer {
  /** https://127.0.0.1:PORT (no trailing slash). */
  url: string;
  /** CA that signed the serving cert: use as caBundle / `ca` for https requests. */
  caPem: string;
  /** http://127.0.0.1:METRICS_PORT */
  metricsUrl: string;
  port: number;
  metricsPort: number;
  pid: number | undefined;
  logFile: string;
  /** Everything the server wrote to stdout/stderr so far. */
  logs(): string;
  stop(): Promise<void>;
}

function httpsGetStatus(url: string, caPem: string): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca: caPem, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

/**
 * Spawns `node dist/cli/main.js serve` with a fresh serving cert on free ports and
 * waits for GET /readyz to answer 200.
 */
export async function startWebhookServer(opts: StartWebhookServerOptions): Promise<WebhookServer> {
  const {
    kubeconfigPath,
    extraArgs = [],
    env,
    readyTimeoutMs = 60_000,
    entry = path.join(REPO_ROOT, 'dist', 'cli', 'main.js'),
    detached = false,
  } = opts;
  if (!fs.existsSync(entry)) throw new Error(`${entry} does not exist: run \`npm run build\` first`);
  const dir = opts.dir ? path.resolve(opts.dir) : await fsp.mkdtemp(path.join(os.tmpdir(), 'kga-webhook-'));
  await fsp.mkdir(dir, { recursive: true });
  const ownsDir = !opts.dir;
  const certs = opts.certs ?? (await generateServingCert());
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  await fsp.writeFile(certFile, certs.certPem);
  await fsp.writeFile(keyFile, certs.keyPem, { mode: 0o600 });
  await fsp.writeFile(path.join(dir, 'ca.crt'), certs.caPem);

  const [port, metricsPort] = (opts.port && opts.metricsPort ? [opts.port, opts.metricsPort] : await freePorts(2)) as [number, number];
  const logFile = path.join(dir, 'webhook.log');
  const args = [
    entry,
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--metrics-port',
    String(metricsPort),
    '--tls-cert',
    certFile,
    '--tls-key',
    keyFile,
    '--kubeconfig',
    path.resolve(kubeconfigPath),
    ...extraArgs,
  ];
  const child = spawnLogged(process.execPath, args, logFile, {
    detached,
    cwd: REPO_ROOT,
    env: { ...process.env, ...(env ?? {}) },
  });
  const owned: Owned = { procs: [child], dirs: ownsDir ? [dir] : [] };
  if (!detached) track(owned);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await killAndWait(child);
    if (ownsDir) await fsp.rm(dir, { recursive: true, force: true });
    untrack(owned);
  };
  const url = `https://127.0.0.1:${port}`;
  try {
    await waitFor('webhook server /readyz', async () => (await httpsGetStatus(`${url}/readyz`, certs.caPem)) === 200, {
      timeoutMs: readyTimeoutMs,
      intervalMs: 150,
      abort: () => (isRunning(child) ? undefined : `webhook server exited (${child.exitCode ?? child.signalCode}):\n${tail(logFile)}`),
    });
  } catch (e) {
    (e as Error).message += `\n--- webhook log (${logFile}) ---\n${tail(logFile)}`;
    await stop();
    throw e;
  }
  return {
    url,
    caPem: certs.caPem,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    port,
    metricsPort,
    pid: child.pid,
    logFile,
    logs: () => {
      try {
        return fs.readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    stop,
  };
}
