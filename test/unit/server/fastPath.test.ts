// Which requests the fast path answers itself and which it leaves to Fastify.
// The server answers what the fast path declines with 599, so a case that
// took the wrong branch shows in its status.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionEngine } from '../../../src/admission/admissionEngine.js';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { buildRuleSet } from '../../../src/rules/ruleSet.js';
import { AdmissionAnswers } from '../../../src/server/admissionAnswers.js';
import { admissionFastPath } from '../../../src/server/fastPath.js';
import { AdmissionMetrics } from '../../../src/server/metrics.js';
import { admissionRequest, admissionReview, gateway } from '../../support/builders.js';

const DECLINED = 599;
const LIMIT = 16 * 1024;
let server: Server;
let port: number;

beforeAll(async () => {
  const logger = pino({ level: 'silent' });
  const answers = new AdmissionAnswers({
    engine: new AdmissionEngine({ ruleSet: buildRuleSet(ruleSettings(parseConfig({}))), view: InMemoryClusterView.fromObjects([]) }),
    logger,
    decisionLogger: logger,
    metrics: new AdmissionMetrics({ defaultMetrics: false }),
  });
  const fastPath = admissionFastPath({ answers, bodyLimitBytes: LIMIT, requireClientCertificate: false, isClosing: () => false });
  server = createServer((req, res) => {
    if (fastPath(req, res)) return;
    req.resume();
    res.writeHead(DECLINED).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function send(options: { method?: string; path: string; headers?: Record<string, string>; body?: string; chunked?: boolean }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = options.body ?? JSON.stringify(admissionReview(admissionRequest(gateway())));
    const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
    if (!options.chunked && options.method !== 'GET') headers['content-length'] = String(Buffer.byteLength(body));
    const req = request({ host: '127.0.0.1', port, method: options.method ?? 'POST', path: options.path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    if (options.method === 'GET') req.end();
    else if (options.chunked) {
      // Written before end(), so Node cannot know the length and sends it chunked.
      req.write(body);
      req.end();
    } else req.end(body);
  });
}

describe('the admission fast path', () => {
  it('answers what the API server sends, including the ?timeout= it appends to the webhook URL', async () => {
    for (const path of ['/mutate', '/validate', '/mutate?timeout=10s', '/validate?timeout=30s']) {
      const res = await send({ path });
      expect(res.status, path).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ kind: 'AdmissionReview', response: { allowed: true } });
    }
  });

  it('leaves everything else to Fastify', async () => {
    const cases: [string, Parameters<typeof send>[0]][] = [
      ['another path', { path: '/mutatex' }],
      ['a path below', { path: '/validate/x' }],
      ['GET', { method: 'GET', path: '/validate' }],
      ['another content type', { path: '/validate', headers: { 'content-type': 'application/json; charset=utf-8' } }],
      ['a chunked body', { path: '/validate', chunked: true }],
      ['an empty body', { path: '/validate', body: '' }],
      ['a body over the limit', { path: '/validate', body: `{"x":"${'a'.repeat(LIMIT)}"}` }],
    ];
    for (const [what, options] of cases) expect((await send(options)).status, what).toBe(DECLINED);
  });
});
