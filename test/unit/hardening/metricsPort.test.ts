// Issue 21 item 6 (metrics): the metrics port had Node's default timeouts
// (a silent connection held for good, headers allowed 60 s) and no connection
// cap. It now has the admission port's timeouts and caps, with the short idle
// limit after a scrape, and can be served over TLS (server.metricsTls).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestClusterSource } from '../../../src/cluster/clusterSource.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { startWebhookServer, type RunningWebhookServer } from '../../../src/cli/composition.js';
import { makeCa, makeLeaf, tlsDir, type Pem } from './support.js';

const TIMEOUT_MS = 300;

let ca: Pem;
let files: Awaited<ReturnType<typeof tlsDir>>;
const servers: RunningWebhookServer[] = [];

async function serve(server: Record<string, number | boolean>): Promise<RunningWebhookServer> {
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

/** A TCP connection to the metrics port from `localAddress`, and when the server closes it (undefined: still open after `limitMs`). */
function connectTo(server: RunningWebhookServer, limitMs: number, localAddress = '127.0.0.1'): { socket: Socket; closedAfter: Promise<number | undefined> } {
  const { hostname, port } = new URL(server.metricsUrl);
  const started = performance.now();
  const socket = netConnect({ host: hostname, port: Number(port), localAddress }).on('error', () => {});
  // Read (and drop) what comes back: a paused socket never sees the server's close.
  socket.resume();
  const closedAfter = new Promise<number | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    });
  });
  return { socket, closedAfter };
}

beforeAll(async () => {
  ca = await makeCa('kga-metrics-port-ca');
  files = await tlsDir(await makeLeaf(ca, { commonName: '127.0.0.1', usage: 'server' }));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('the metrics port', () => {
  it('closes a connection that sends nothing after the headers timeout, and one sending headers a byte at a time', async () => {
    const server = await serve({ headersTimeoutMs: TIMEOUT_MS, requestTimeoutMs: TIMEOUT_MS });
    const silent = connectTo(server, 5_000);
    const dripping = connectTo(server, 5_000);
    const headers = 'GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n';
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < headers.length) dripping.socket.write(headers[sent++]!);
    }, 100);
    try {
      expect(await silent.closedAfter, 'a silent connection was still open after 5 s').toBeDefined();
      expect(await dripping.closedAfter, 'a dripping connection was still open after 5 s').toBeDefined();
    } finally {
      clearInterval(drip);
      silent.socket.destroy();
      dripping.socket.destroy();
    }
  });

  it('caps connections per source address', async () => {
    const server = await serve({ maxConnectionsPerSource: 2 });
    const held = [connectTo(server, 3_000, '127.0.0.2'), connectTo(server, 3_000, '127.0.0.2')];
    await new Promise((r) => setTimeout(r, 200));
    const third = connectTo(server, 3_000, '127.0.0.2');
    try {
      expect(await third.closedAfter, 'the third connection from 127.0.0.2 was kept open').toBeLessThan(2_000);
      const text = await new Promise<string>((resolve, reject) => {
        httpRequest(`${server.metricsUrl}/metrics`, { agent: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString('utf8')));
          res.on('end', () => resolve(body));
        })
          .on('error', reject)
          .end();
      });
      expect(text).toContain('kgateway_admission_ready');
    } finally {
      for (const c of [...held, third]) c.socket.destroy();
    }
  });

  it('closes a connection idle after a scrape after nonAdmissionIdleTimeoutMs', async () => {
    const server = await serve({ nonAdmissionIdleTimeoutMs: TIMEOUT_MS });
    const scraper = connectTo(server, 4_000);
    scraper.socket.write('GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    // Node's own default keep-alive is 5 s.
    expect(await scraper.closedAfter, 'the scraper connection was still open after 4 s').toBeDefined();
    scraper.socket.destroy();
  });

  it('serves /metrics over HTTPS with the serving certificate when server.metricsTls is set', async () => {
    const server = await serve({ metricsTls: true });
    expect(server.metricsUrl).toMatch(/^https:\/\//);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      httpsRequest(`${server.metricsUrl}/metrics`, { ca: ca.certPem, agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      })
        .on('error', reject)
        .end();
    });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('kgateway_admission_certificate_expiry_timestamp_seconds');
    // Plain HTTP on that port gets no metrics.
    const plain = await new Promise<string>((resolve) => {
      httpRequest(`${server.metricsUrl.replace('https:', 'http:')}/metrics`, { agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve(text));
      })
        .on('error', (error) => resolve(`error: ${error.message}`))
        .end();
    });
    expect(plain).not.toContain('kgateway_admission_ready');
  });
});
