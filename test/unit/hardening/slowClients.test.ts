// Issue 17 item 7: slow or idle clients cannot hold the HTTPS port. A TCP
// connection that never starts TLS is closed after the handshake timeout (was
// 120 s), headers sent a byte at a time are cut after the headers timeout,
// and past maxConnections new connections are closed at once. The real
// server, with the timeouts shortened by config so the test runs in moments;
// keep-alive, which the API server relies on, still works.
import { Agent } from 'node:https';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestClusterSource } from '../../../src/cluster/clusterSource.js';
import { ConfigError, parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { startWebhookServer, type RunningWebhookServer } from '../../../src/cli/composition.js';
import { handshake, makeCa, makeLeaf, policyReview, post, tlsDir, type Pem } from './support.js';

const TIMEOUT_MS = 300;

let ca: Pem;
let files: Awaited<ReturnType<typeof tlsDir>>;
const servers: RunningWebhookServer[] = [];

async function serve(server: Record<string, number>): Promise<RunningWebhookServer> {
  const config = parseConfig({ server: { port: 0, metricsPort: 0, ...server } });
  const running = await startWebhookServer({
    config,
    source: await manifestClusterSource(['examples'], viewOptionsFor(ruleSettings(config))),
    logger: pino({ level: 'silent' }),
    tls: { certFile: files.certFile, keyFile: files.keyFile },
  });
  servers.push(running);
  return running;
}

const portOf = (server: RunningWebhookServer) => Number(new URL(server.url).port);

/** When the other side closes the socket (performance.now()), or undefined if still open after `limitMs`; listens from the call on. */
function whenClosed(socket: Socket, limitMs: number): Promise<number | undefined> {
  socket.on('error', () => {});
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now());
    });
  });
}

function secured(socket: TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('close', () => reject(new Error('closed before the handshake completed')));
  });
}

beforeAll(async () => {
  ca = await makeCa('kga-slow-clients-ca');
  files = await tlsDir(await makeLeaf(ca, { commonName: '127.0.0.1', usage: 'server' }));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('slow clients', () => {
  // The handshake timeout on its own server: on a busy machine a real
  // handshake may take longer than the short timeouts used here.
  let silent: RunningWebhookServer;
  let server: RunningWebhookServer;
  beforeAll(async () => {
    silent = await serve({ handshakeTimeoutMs: TIMEOUT_MS });
    server = await serve({ headersTimeoutMs: TIMEOUT_MS, requestTimeoutMs: TIMEOUT_MS });
  });

  const expectClosedAfterTimeout = (closedAt: number | undefined, started: number) => {
    expect(closedAt, 'still open seconds later').toBeDefined();
    expect(closedAt! - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(closedAt! - started).toBeLessThan(TIMEOUT_MS + 3_000);
  };

  it('a TCP connection that never starts TLS is closed after the handshake timeout, not at once', async () => {
    const started = performance.now();
    const socket = tcpConnect(portOf(silent), '127.0.0.1');
    const closedAt = await whenClosed(socket, 8_000);
    socket.destroy();
    expectClosedAfterTimeout(closedAt, started);
  });

  it('a TLS connection that never sends a request is closed after the headers timeout', async () => {
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port: portOf(server), ca: ca.certPem });
    const closed = whenClosed(socket, 8_000);
    await secured(socket);
    const started = performance.now();
    const closedAt = await closed;
    socket.destroy();
    expectClosedAfterTimeout(closedAt, started);
  });

  it('headers sent a byte at a time are cut after the headers timeout', async () => {
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port: portOf(server), ca: ca.certPem });
    const closed = whenClosed(socket, 8_000);
    await secured(socket);
    const started = performance.now();
    const headers = `POST /validate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nx-slow: ${'a'.repeat(10_000)}`;
    let sent = 0;
    const drip = setInterval(() => {
      if (!socket.destroyed && sent < headers.length) socket.write(headers[sent++]!);
    }, 20);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    const closedAt = await closed;
    clearInterval(drip);
    socket.destroy();
    expectClosedAfterTimeout(closedAt, started);
    expect(sent).toBeLessThan(headers.length);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a body sent too slowly is cut after the request timeout', async () => {
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port: portOf(server), ca: ca.certPem });
    const closed = whenClosed(socket, 8_000);
    await secured(socket);
    const started = performance.now();
    socket.write('POST /validate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{');
    const drip = setInterval(() => !socket.destroyed && socket.write(' '), 20);
    const closedAt = await closed;
    clearInterval(drip);
    socket.destroy();
    expectClosedAfterTimeout(closedAt, started);
  });

  it('keeps a keep-alive connection open across idle gaps longer than the timeouts, as the API server uses it', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const body = JSON.stringify(policyReview('keep-alive-1'));
      const first = await post(`${server.url}/validate`, body, { ca: ca.certPem, agent });
      expect(first.status).toBe(200);
      await new Promise((r) => setTimeout(r, TIMEOUT_MS * 3));
      const second = await post(`${server.url}/validate`, JSON.stringify(policyReview('keep-alive-2')), { ca: ca.certPem, agent });
      expect(second.status).toBe(200);
      expect(second.reusedSocket).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});

describe('connection cap', () => {
  it('closes connections past maxConnections at once, and accepts again once one is gone', async () => {
    const server = await serve({ maxConnections: 3 });
    const held = await Promise.all([1, 2, 3].map(() => handshake(server.url, { ca: ca.certPem, keepOpen: true })));
    expect(held.map((h) => h.ok)).toEqual([true, true, true]);
    try {
      const started = performance.now();
      const extra = tcpConnect(portOf(server), '127.0.0.1');
      const closedAt = await whenClosed(extra, 3_000);
      extra.destroy();
      expect(closedAt, 'the fourth connection was kept open').toBeDefined();
      // At once: far sooner than any timeout (10 s here).
      expect(closedAt! - started).toBeLessThan(2_000);
      expect((await handshake(server.url, { ca: ca.certPem })).ok).toBe(false);
      // A request through a held connection is still answered.
      held[0]!.socket!.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const answer = await post(`${server.url}/validate`, JSON.stringify(policyReview('after-cap')), { ca: ca.certPem });
      expect(answer.status).toBe(200);
    } finally {
      for (const h of held) h.socket?.destroy();
    }
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    expect(() => parseConfig({ server: { headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 } })).toThrow(ConfigError);
    expect(() => parseConfig({ server: { headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 } })).toThrow(/headersTimeoutMs: must be at most server.requestTimeoutMs/);
  });
});
