// SIGTERM under load, with `serve` as a real process: it stops accepting at
// once, answers every request it has accepted (including one whose body is
// still uploading when the signal arrives), and exits 0.
import { writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookServer, type RunningWebhookServer } from '../../../src/cli/composition.js';
import { manifestClusterSource } from '../../../src/cluster/clusterSource.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { isAnswerTo, makeCa, makeLeaf, policyReview, post, spawnServe, startLoad, summarize, tlsDir, type Pem, type SpawnedServer } from './support.js';

let ca: Pem;
let files: Awaited<ReturnType<typeof tlsDir>>;
const spawned: SpawnedServer[] = [];

beforeAll(async () => {
  ca = await makeCa('kga-shutdown-ca');
  files = await tlsDir(await makeLeaf(ca, { commonName: '127.0.0.1', usage: 'server' }));
});
afterAll(async () => {
  await Promise.all(spawned.map((s) => s.kill('SIGKILL')));
});

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** Splits what came back on one connection into HTTP/1.1 responses (content-length framed). */
function parseResponses(raw: Buffer): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let rest = raw;
  for (;;) {
    const split = rest.indexOf('\r\n\r\n');
    if (split < 0) return answers;
    const headers = rest.subarray(0, split).toString('utf8').toLowerCase();
    const length = Number(/content-length: (\d+)/.exec(headers)?.[1] ?? 0);
    answers.push({ status: Number(headers.slice(9, 12)), headers, body: rest.subarray(split + 4, split + 4 + length).toString('utf8') });
    rest = rest.subarray(split + 4 + length);
  }
}

/**
 * Requests written by hand over one TLS connection: the headers and first
 * part of `body` now; the rest, and then `pipelined` bodies as further
 * requests in the same write, when `finish` is called. Resolves with every
 * response once the server closes the connection.
 */
function slowRequest(url: string, body: string, firstBytes: number, pipelined: string[] = []): { finish: () => void; answers: Promise<RawAnswer[]> } {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port), ca: ca.certPem });
  const head = (length: number) => `POST /validate HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;
  const payload = Buffer.from(body);
  const chunks: Buffer[] = [];
  const answers = new Promise<RawAnswer[]>((resolve, reject) => {
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(parseResponses(Buffer.concat(chunks))));
  });
  socket.once('secureConnect', () => {
    socket.write(head(payload.length));
    socket.write(payload.subarray(0, firstBytes));
  });
  return {
    finish: () => socket.write(Buffer.concat([payload.subarray(firstBytes), ...pipelined.map((p) => Buffer.concat([Buffer.from(head(Buffer.byteLength(p))), Buffer.from(p)]))])),
    answers,
  };
}

describe('SIGTERM under load', () => {
  it('stops accepting, finishes every accepted request, and exits 0', async () => {
    const server = await spawnServe(['--manifests', 'examples', '--tls-cert', files.certFile, '--tls-key', files.keyFile]);
    spawned.push(server);
    const load = startLoad({ url: server.url, ca: ca.certPem, clients: 8 });
    await new Promise((r) => setTimeout(r, 1_000));

    // A 2.5 MiB review (under the 3 MiB limit) whose upload straddles the signal.
    const big = policyReview('slow-upload');
    (big.request as { object: { metadata: Record<string, unknown> } }).object.metadata.annotations = { pad: 'x'.repeat(2.5 * 1024 * 1024) };
    // A second request pipelined behind it arrives only after the signal.
    const slow = slowRequest(server.url, JSON.stringify(big), 1024 * 1024, [JSON.stringify(policyReview('pipelined'))]);
    await new Promise((r) => setTimeout(r, 200));

    const signalAt = performance.now();
    process.kill(server.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    // Still alive (the upload is in flight), yet new connections are refused.
    expect(server.child.exitCode).toBeNull();
    const fresh = await post(`${server.url}/validate`, JSON.stringify(policyReview('fresh')), { ca: ca.certPem }).then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    );
    expect(fresh).toBe('ECONNREFUSED');
    slow.finish();

    const guard = setTimeout(() => void load.stop(), 15_000);
    const outcomes = await load.drained;
    clearTimeout(guard);
    // Connections kept alive after their last response must not hold the exit.
    const exit = await Promise.race([server.exited, new Promise((r) => setTimeout(r, 10_000)).then(() => ({ code: 'still running 10 s after SIGTERM', signal: null }))]);
    const exitMs = performance.now() - signalAt;
    const slowAnswers = await Promise.race([slow.answers, new Promise<RawAnswer[]>((r) => setTimeout(() => r([]), 1_000))]);

    // Every request the server read is one it logged a decision for; each
    // of those must have reached its client as a valid AdmissionReview.
    const decided = new Set(server.logLines().filter((l) => l.msg === 'admission decision').map((l) => String(l.uid)));
    const received = new Set(outcomes.filter((o) => o.valid).map((o) => o.uid));
    const lost = [...decided].filter((uid) => uid.startsWith('load-') && !received.has(uid));
    const answeredBadly = outcomes.filter((o) => o.error === undefined && !o.valid);
    // Errors that are not refusals may only be connections the server closed
    // before it read a request from them: kept-alive sockets idle at the
    // signal, or new ones still in their TLS handshake. The API server
    // retries those (a connection reset is one of its retriable errors).
    const unexpectedErrors = outcomes.filter(
      (o) => o.error !== undefined && o.error !== 'ECONNREFUSED' && !(['ECONNRESET', 'EPIPE'].includes(o.error) && !decided.has(o.uid)),
    );
    const afterSignal = outcomes.filter((o) => o.startedAt > signalAt && o.valid).length;
    const summary = summarize(outcomes);
    process.stderr.write(
      `[hardening] SIGTERM under load: ${summary.total} requests, ${summary.valid} answered (${afterSignal} sent after the signal on open connections), ` +
        `errors ${JSON.stringify(summary.byError)}, statuses ${JSON.stringify(summary.byStatus)}, exit ${JSON.stringify(exit)} ${exitMs.toFixed(0)} ms after SIGTERM\n`,
    );

    expect(answeredBadly, JSON.stringify(answeredBadly.slice(0, 3))).toEqual([]);
    expect(lost).toEqual([]);
    expect(unexpectedErrors, JSON.stringify(unexpectedErrors.slice(0, 3))).toEqual([]);
    expect(summary.valid).toBeGreaterThan(100);
    expect(slowAnswers.map((a) => a.status)).toEqual([200, 200]);
    expect(isAnswerTo(slowAnswers[0]!.body, 'slow-upload')).toBe(true);
    expect(isAnswerTo(slowAnswers[1]!.body, 'pipelined')).toBe(true);
    expect(slowAnswers[1]!.headers).toContain('connection: close');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('shutting down: finishing in-flight requests');
  });

  it('on SIGTERM when idle, leaves keep-alive connections open for the drain window, then closes them and exits 0', async () => {
    const configFile = join(files.dir, 'drain-config.json');
    await writeFile(configFile, JSON.stringify({ server: { drainTimeoutMs: 1_000 } }));
    const server = await spawnServe(['--manifests', 'examples', '--tls-cert', files.certFile, '--tls-key', files.keyFile, '--config', configFile]);
    spawned.push(server);
    const agent = new Agent({ keepAlive: true, ca: ca.certPem });
    for (let i = 0; i < 4; i++) {
      const answer = await post(`${server.url}/validate`, JSON.stringify(policyReview(`idle-${i}`)), { ca: ca.certPem, agent });
      expect(isAnswerTo(answer.text, `idle-${i}`)).toBe(true);
    }
    // The client's socket stays open and idle (keep-alive 120 s); it holds the exit only for the drain window.
    expect(Object.values(agent.freeSockets).flat()).toHaveLength(1);
    const signalAt = performance.now();
    process.kill(server.pid, 'SIGTERM');
    const exit = await server.exited;
    const ms = performance.now() - signalAt;
    expect(exit).toEqual({ code: 0, signal: null });
    agent.destroy();
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(3_000);
  });

  it('writes every decision line before it exits, even those logged just before SIGTERM', async () => {
    const server = await spawnServe(['--manifests', 'examples', '--tls-cert', files.certFile, '--tls-key', files.keyFile]);
    spawned.push(server);
    const agent = new Agent({ keepAlive: true, ca: ca.certPem });
    const uids = ['last-0', 'last-1', 'last-2'];
    for (const uid of uids) expect(isAnswerTo((await post(`${server.url}/validate`, JSON.stringify(policyReview(uid)), { ca: ca.certPem, agent })).text, uid)).toBe(true);
    // At once: log lines are buffered, and these few are far from filling the buffer.
    process.kill(server.pid, 'SIGTERM');
    // The client closes its idle connection, so the exit need not wait out the drain window.
    agent.destroy();
    const exit = await server.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const decided = server.logLines().filter((l) => l.msg === 'admission decision').map((l) => l.uid);
    expect(decided).toEqual(uids);
    expect(server.output()).toContain('shutting down: finishing in-flight requests');
  });

  it('closes a keep-alive connection whose request was in flight at SIGTERM once it is answered, and exits promptly', async () => {
    const server = await spawnServe(['--manifests', 'examples', '--tls-cert', files.certFile, '--tls-key', files.keyFile]);
    spawned.push(server);
    // Read before the signal, so answered without Connection: close; the
    // client then keeps the connection open and idle.
    const body = JSON.stringify(policyReview('in-flight'));
    const slow = slowRequest(server.url, body, 10);
    await new Promise((r) => setTimeout(r, 200));
    const signalAt = performance.now();
    process.kill(server.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    slow.finish();
    const answers = await Promise.race([slow.answers, new Promise<RawAnswer[]>((r) => setTimeout(() => r([]), 5_000))]);
    expect(answers.map((a) => a.status)).toEqual([200]);
    expect(isAnswerTo(answers[0]!.body, 'in-flight')).toBe(true);
    const exit = await Promise.race([server.exited, new Promise((r) => setTimeout(r, 5_000)).then(() => ({ code: 'still running 5 s after SIGTERM', signal: null }))]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(performance.now() - signalAt).toBeLessThan(3_000);
  });

  // Issue 21 item 6: http.Server.close() (Fastify's, after the drain) stops
  // Node's headers and request timeouts, so such a client held the exit until
  // SIGKILL. Defaults: drain 5 s, request timeout 10 s; the bound is
  // drain + 15 s, which a loaded machine still meets (the exit comes ~15 s
  // after the signal).
  it('exits within drain + 15 s of SIGTERM while a client sends its request one byte every 500 ms', async () => {
    const server = await spawnServe(['--manifests', 'examples', '--tls-cert', files.certFile, '--tls-key', files.keyFile]);
    spawned.push(server);
    const { hostname, port } = new URL(server.url);
    const dripper = connect({ host: hostname, port: Number(port), ca: ca.certPem });
    dripper.on('error', () => {});
    await new Promise((r) => dripper.once('secureConnect', r));
    const request = Buffer.from(`POST /validate HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n${'x'.repeat(100_000)}`);
    let sent = 0;
    const drip = setInterval(() => {
      if (!dripper.destroyed && sent < request.length) dripper.write(request.subarray(sent, ++sent));
    }, 500);
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      const signalAt = performance.now();
      process.kill(server.pid, 'SIGTERM');
      const limitMs = 5_000 + 15_000;
      const exit = await Promise.race([server.exited, new Promise((r) => setTimeout(r, limitMs)).then(() => ({ code: 'still running drain + 15 s after SIGTERM', signal: null }))]);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(performance.now() - signalAt).toBeLessThan(limitMs);
    } finally {
      clearInterval(drip);
      dripper.destroy();
    }
  }, 60_000);
});

/** One client connection written by hand, so the test sees exactly when the server closes it. */
class RawConnection {
  private readonly socket: TLSSocket;
  private received = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  readonly closedAt: Promise<number>;

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.socket = connect({ host: hostname, port: Number(port), ca: ca.certPem });
    this.socket.on('error', () => {});
    this.socket.on('data', (c: Buffer) => {
      this.received = Buffer.concat([this.received, c]);
      this.waiting?.();
    });
    this.closedAt = new Promise((resolve) => this.socket.once('close', () => resolve(performance.now())));
  }

  get open(): boolean {
    return !this.socket.destroyed && !this.socket.readableEnded;
  }

  /** Sends one review and resolves with its response (or with what came back when the server closed the connection). */
  async request(uid: string): Promise<RawAnswer> {
    if (!this.socket.readyState || this.socket.connecting) await new Promise((r) => this.socket.once('secureConnect', r));
    this.received = Buffer.alloc(0);
    const body = JSON.stringify(policyReview(uid));
    this.socket.write(`POST /validate?timeout=10s HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const complete = () => {
      const [answer] = parseResponses(this.received);
      return answer !== undefined && Buffer.byteLength(answer.body) > 0 ? answer : undefined;
    };
    await new Promise<void>((resolve) => {
      this.waiting = () => complete() && resolve();
      void this.closedAt.then(() => resolve());
    });
    this.waiting = undefined;
    return complete() ?? { status: 0, headers: '', body: '' };
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe('drain on close (server.drainTimeoutMs)', () => {
  const running: RunningWebhookServer[] = [];
  afterAll(async () => {
    await Promise.all(running.map((r) => r.close().catch(() => {})));
  });

  async function serve(drainTimeoutMs: number): Promise<RunningWebhookServer> {
    const config = parseConfig({ server: { port: 0, metricsPort: 0, drainTimeoutMs } });
    const server = await startWebhookServer({
      config,
      source: await manifestClusterSource(['examples'], viewOptionsFor(ruleSettings(config))),
      logger: pino({ level: 'silent' }),
      tls: { certFile: files.certFile, keyFile: files.keyFile },
    });
    running.push(server);
    return server;
  }

  /** When `promise` settles (performance.now()), or undefined if not within `limitMs`. */
  const settledAt = (promise: Promise<unknown>, limitMs: number) =>
    Promise.race([promise.then(() => performance.now()), new Promise<undefined>((r) => setTimeout(() => r(undefined), limitMs))]);

  it('keeps a kept-alive idle connection open at close, and answers a request sent on it in the window with Connection: close', async () => {
    const server = await serve(5_000);
    const connection = new RawConnection(server.url);
    const first = await connection.request('before-close');
    expect(first.status).toBe(200);
    expect(first.headers).not.toContain('connection: close');

    const closeStartedAt = performance.now();
    const closed = server.close();
    await new Promise((r) => setTimeout(r, 300));
    // Not destroyed at once (the old behaviour), and no new connection accepted.
    expect(connection.open).toBe(true);
    const fresh = await post(`${server.url}/validate`, JSON.stringify(policyReview('fresh')), { ca: ca.certPem }).then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    );
    expect(fresh).toBe('ECONNREFUSED');

    const last = await connection.request('in-the-window');
    expect(last.status).toBe(200);
    expect(isAnswerTo(last.body, 'in-the-window')).toBe(true);
    expect(last.headers).toContain('connection: close');
    // The server closes the connection after that answer, and close() then
    // resolves without waiting out the rest of the 5 s window.
    expect(await settledAt(connection.closedAt, 2_000)).toBeDefined();
    const closedAt = await settledAt(closed, 2_000);
    expect(closedAt).toBeDefined();
    expect(closedAt! - closeStartedAt).toBeLessThan(5_000);
  });

  it('closes a connection still idle at the end of the window, and close() resolves then', async () => {
    const windowMs = 800;
    const server = await serve(windowMs);
    const connection = new RawConnection(server.url);
    expect((await connection.request('idle-after')).status).toBe(200);
    const closeStartedAt = performance.now();
    const closed = server.close();
    const closedAt = await settledAt(closed, windowMs + 3_000);
    const connectionClosedAt = await settledAt(connection.closedAt, 100);
    expect(connectionClosedAt).toBeDefined();
    expect(closedAt).toBeDefined();
    // Closed by the server at the end of the window, not before.
    expect(connectionClosedAt! - closeStartedAt).toBeGreaterThanOrEqual(windowMs - 50);
    expect(closedAt! - closeStartedAt).toBeGreaterThanOrEqual(windowMs - 50);
  });

  it('resolves close() at once when no connection is open, without waiting for the window', async () => {
    const server = await serve(30_000);
    // A connection that was used and then closed by its client does not count.
    const connection = new RawConnection(server.url);
    expect((await connection.request('gone')).status).toBe(200);
    connection.destroy();
    await connection.closedAt;
    await new Promise((r) => setTimeout(r, 50));
    const closeStartedAt = performance.now();
    const closedAt = await settledAt(server.close(), 5_000);
    expect(closedAt).toBeDefined();
    expect(closedAt! - closeStartedAt).toBeLessThan(5_000);
  });
});
