// Shared by the hardening tests (unit and e2e): certificates of any key type,
// the CLI's `serve` spawned as a process, a keep-alive load generator, and raw
// TLS handshakes. Loopback only.
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { REPO } from '../../support/cli.js';

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

export interface Pem {
  certPem: string;
  keyPem: string;
}

export type KeyType = 'ec' | 'rsa';

export async function makeCa(commonName: string, keyType: KeyType = 'ec'): Promise<Pem> {
  const ca = await generate([{ name: 'commonName', value: commonName }], {
    keyType,
    ...(keyType === 'rsa' ? { keySize: 2048 } : {}),
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { certPem: ca.cert, keyPem: ca.private };
}

/** A leaf signed by `ca`: a serving certificate for 127.0.0.1/localhost, or a client certificate. */
export async function makeLeaf(ca: Pem, options: { commonName: string; usage: 'server' | 'client'; keyType?: KeyType }): Promise<Pem> {
  const keyType = options.keyType ?? 'ec';
  const leaf = await generate([{ name: 'commonName', value: options.commonName }], {
    keyType,
    ...(keyType === 'rsa' ? { keySize: 2048 } : {}),
    algorithm: 'sha256',
    ca: { key: ca.keyPem, cert: ca.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      options.usage === 'server' ? { name: 'extKeyUsage', serverAuth: true } : { name: 'extKeyUsage', clientAuth: true },
      ...(options.usage === 'server'
        ? [{ name: 'subjectAltName' as const, altNames: [{ type: 7 as const, ip: '127.0.0.1' }, { type: 2 as const, value: 'localhost' }] }]
        : []),
    ],
  });
  return { certPem: leaf.cert, keyPem: leaf.private };
}

export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** A temp dir holding tls.crt / tls.key (and whatever else is asked for). */
export async function tlsDir(serving: Pem, extra: Record<string, string> = {}): Promise<{ dir: string; certFile: string; keyFile: string; file: (name: string) => string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kga-hardening-'));
  const file = (name: string) => join(dir, name);
  await writeFile(file('tls.crt'), serving.certPem);
  await writeFile(file('tls.key'), serving.keyPem, { mode: 0o600 });
  for (const [name, content] of Object.entries(extra)) await writeFile(file(name), content);
  return { dir, certFile: file('tls.crt'), keyFile: file('tls.key'), file };
}

// ---------------------------------------------------------------------------
// `kgateway-admission serve` as a process
// ---------------------------------------------------------------------------

export interface SpawnedServer {
  child: ChildProcess;
  pid: number;
  url: string;
  metricsUrl: string;
  /** Every stdout/stderr line so far. */
  output: () => string;
  /** The JSON log lines (pino) so far. */
  logLines: () => Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill: (signal?: NodeJS.Signals) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `node dist/cli/main.js serve --host 127.0.0.1 --port 0 --metrics-port 0 ARGS`
 * and resolves once it logs the URLs it listens on.
 */
export async function spawnServe(args: string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<SpawnedServer> {
  const child = spawn(process.execPath, [join(REPO, 'dist/cli/main.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  // 'close', not 'exit': the last lines written before exiting may be read after 'exit'.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const logLines = () =>
    output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  const deadline = Date.now() + (options.timeoutMs ?? 45_000);
  for (;;) {
    const serving = logLines().find((l) => l.msg === 'kgateway-admission serving');
    if (serving) {
      const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      };
      return {
        child,
        pid: child.pid!,
        url: String(serving.url),
        metricsUrl: String(serving.metricsUrl).replace(/\/metrics$/, ''),
        output: () => output,
        logLines,
        exited,
        kill,
      };
    }
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`serve exited (${child.exitCode ?? child.signalCode}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`serve did not start in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ---------------------------------------------------------------------------
// HTTPS requests and a keep-alive load generator
// ---------------------------------------------------------------------------

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export function post(
  url: string,
  body: string | Buffer,
  options: { ca: string; agent?: Agent; cert?: string; key?: string; contentType?: string; timeoutMs?: number },
): Promise<Answer & { reusedSocket: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca: options.ca,
        agent: options.agent ?? false,
        headers: { 'content-type': options.contentType ?? 'application/json', 'content-length': Buffer.byteLength(body) },
        ...(options.cert ? { cert: options.cert, key: options.key } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), reusedSocket: req.reusedSocket }));
        res.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
      },
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    req.end(body);
  });
}

/** The request of a minimal AdmissionReview for a brief-style HTTPListenerPolicy. */
export function policyReview(uid: string, refNamespace = 'monitoring'): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'gateway.kgateway.dev', version: 'v1alpha1', kind: 'HTTPListenerPolicy' },
      operation: 'CREATE',
      namespace: 'kgateway',
      object: {
        apiVersion: 'gateway.kgateway.dev/v1alpha1',
        kind: 'HTTPListenerPolicy',
        metadata: { name: `load-${uid}`, namespace: 'kgateway' },
        spec: { accessLog: [{ openTelemetry: { grpcService: { backendRef: { name: 'otel-collector-collector', namespace: refNamespace, port: 4317 } } } }] },
      },
    },
  };
}

/** Whether `text` is an AdmissionReview answering `uid`. */
export function isAnswerTo(text: string, uid: string): boolean {
  try {
    const review = JSON.parse(text) as { apiVersion?: unknown; kind?: unknown; response?: { uid?: unknown; allowed?: unknown } };
    return review.apiVersion === 'admission.k8s.io/v1' && review.kind === 'AdmissionReview' && review.response?.uid === uid && typeof review.response.allowed === 'boolean';
  } catch {
    return false;
  }
}

export interface Outcome {
  uid: string;
  client: number;
  startedAt: number;
  endedAt: number;
  /** HTTP status when an answer came back. */
  status?: number;
  /** Whether the answer was an AdmissionReview for this uid. */
  valid?: boolean;
  /** Error code when no answer came back. */
  error?: string;
  /** The request went out on a kept-alive socket (Node's req.reusedSocket). */
  reusedSocket?: boolean;
}

export interface Load {
  outcomes: Outcome[];
  /** Stops sending and resolves once every client's last request has settled. */
  stop(): Promise<Outcome[]>;
  /** Resolves once every client has stopped by itself (each stops at its first ECONNREFUSED). */
  drained: Promise<Outcome[]>;
}

/**
 * `clients` concurrent keep-alive clients, each with its own socket (as the
 * API server keeps connections to a webhook), sending back to back until
 * stopped or refused.
 */
export function startLoad(options: {
  url: string;
  ca: string;
  clients: number;
  path?: string;
  review?: (uid: string) => unknown;
  cert?: string;
  key?: string;
  /** Called for each settled request. */
  onOutcome?: (outcome: Outcome) => void;
}): Load {
  const outcomes: Outcome[] = [];
  let stopped = false;
  let sequence = 0;
  const review = options.review ?? ((uid: string) => policyReview(uid));
  const client = async (index: number): Promise<void> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: options.ca, ...(options.cert ? { cert: options.cert, key: options.key } : {}) });
    try {
      while (!stopped) {
        const uid = `load-${index}-${++sequence}`;
        const outcome: Outcome = { uid, client: index, startedAt: performance.now(), endedAt: 0 };
        try {
          const answer = await post(`${options.url}${options.path ?? '/validate'}`, JSON.stringify(review(uid)), { ca: options.ca, agent, ...(options.cert ? { cert: options.cert, key: options.key } : {}) });
          outcome.status = answer.status;
          outcome.valid = answer.status === 200 && isAnswerTo(answer.text, uid);
          outcome.reusedSocket = answer.reusedSocket;
        } catch (error) {
          const e = error as NodeJS.ErrnoException & { reusedSocket?: boolean };
          outcome.error = e.code ?? e.message;
          outcome.reusedSocket = e.reusedSocket;
        }
        outcome.endedAt = performance.now();
        outcomes.push(outcome);
        options.onOutcome?.(outcome);
        if (outcome.error === 'ECONNREFUSED') return;
      }
    } finally {
      agent.destroy();
    }
  };
  const all = Promise.all(Array.from({ length: options.clients }, (_, i) => client(i))).then(() => outcomes);
  return {
    outcomes,
    stop: async () => {
      stopped = true;
      return all;
    },
    drained: all,
  };
}

export function summarize(outcomes: readonly Outcome[]): { total: number; answered: number; valid: number; byError: Record<string, number>; byStatus: Record<string, number> } {
  const byError: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  let answered = 0;
  let valid = 0;
  for (const o of outcomes) {
    if (o.error) byError[o.error] = (byError[o.error] ?? 0) + 1;
    else {
      answered++;
      byStatus[String(o.status)] = (byStatus[String(o.status)] ?? 0) + 1;
      if (o.valid) valid++;
    }
  }
  return { total: outcomes.length, answered, valid, byError, byStatus };
}

// ---------------------------------------------------------------------------
// Raw TLS handshakes
// ---------------------------------------------------------------------------

export interface Handshake {
  ok: boolean;
  protocol?: string | null;
  cipher?: string;
  peerFingerprint?: string;
  /** OpenSSL error code on failure, e.g. ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE. */
  error?: string;
  socket?: TLSSocket;
}

/** One TLS handshake against host:port, closed right after unless keepOpen. */
export function handshake(url: string, options: ConnectionOptions & { keepOpen?: boolean }): Promise<Handshake> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port), servername: undefined, ...options });
    let settled = false;
    const done = (result: Handshake) => {
      if (settled) return;
      settled = true;
      if (!options.keepOpen || !result.ok) socket.destroy();
      resolve(result);
    };
    socket.once('secureConnect', () =>
      done({
        ok: true,
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().standardName,
        peerFingerprint: socket.getPeerCertificate().fingerprint256,
        ...(options.keepOpen ? { socket } : {}),
      }),
    );
    socket.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, error: error.code ?? error.message }));
    socket.setTimeout(5_000, () => done({ ok: false, error: 'TIMEOUT' }));
  });
}
