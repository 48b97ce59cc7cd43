// Prototype servers for the profiling experiments (`npm run bench -- --experiments`):
// the product's engine, view and metrics behind variations of the HTTP layer,
// to measure what each change to src/server would gain. Not the product.
//
//   node bench/experiments/variant-server.ts --port N --cert F --key F
//        --variant fastify|raw  --parser secure|json  --log sync|async|none  --metrics plain|none
//
// fastify: Fastify with the product's options and a route like admissionRoutes.ts
// raw:     node:https with the same TLS settings, body → JSON.parse → engine → JSON.stringify
// parser:  secure = Fastify's default JSON parser (secure-json-parse); json = plain JSON.parse
// log:     the product's one info line per decision; sync (pino default), async
//          (pino.destination sync:false, minLength 4096), or none
// metrics: plain = AdmissionMetrics.observe (as the product); none
import https from 'node:https';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { pino } from 'pino';
import { AdmissionEngine, type Endpoint } from '#dist/admission/admissionEngine.js';
import { viewOptionsFor } from '#dist/cluster/inMemoryClusterView.js';
import type { RequestLabels } from '#dist/server/requestMetrics.js';
import { manifestClusterSource } from '#dist/cluster/clusterSource.js';
import * as C from '#dist/config/config.js';
import { buildRuleSet } from '#dist/rules/ruleSet.js';
import { AdmissionMetrics } from '#dist/server/metrics.js';
import { TLS_SETTINGS } from '#dist/server/tls.js';
import { REPO_ROOT } from '../lib/util.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    variant: { type: 'string', default: 'fastify' },
    parser: { type: 'string', default: 'secure' },
    log: { type: 'string', default: 'sync' },
    metrics: { type: 'string', default: 'plain' },
  },
});
const config = C.parseConfig({});
const settings = C.ruleSettings(config);
const source = await manifestClusterSource([path.join(REPO_ROOT, 'examples')], viewOptionsFor(settings));
const engine = new AdmissionEngine({ ruleSet: buildRuleSet(settings), view: source.view });
const metrics = new AdmissionMetrics();
const dest =
  values.log === 'async' ? pino.destination({ dest: 1, sync: false, minLength: 4096 }) : values.log === 'none' ? undefined : pino.destination({ dest: 1, sync: true });
const logger = dest ? pino({ level: 'info', base: { service: 'kgateway-admission' } }, dest) : pino({ level: 'warn' });

function observe(labels: RequestLabels, seconds: number) {
  if (values.metrics !== 'none') metrics.observe(labels, seconds);
}

async function decide(endpoint: Endpoint, body: unknown) {
  const started = process.hrtime.bigint();
  const outcome = await engine.review(endpoint, body);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const a = outcome.request;
  const kind = a?.kind.kind ?? 'unknown';
  const operation = a?.operation ?? 'unknown';
  observe({ endpoint, kind, operation, decision: outcome.decision }, seconds);
  logger.info(
    {
      endpoint,
      uid: outcome.body.response.uid,
      kind,
      operation,
      namespace: a?.object?.metadata?.namespace ?? a?.namespace,
      name: a?.object?.metadata?.name ?? a?.name,
      decision: outcome.decision,
      durationMs: Math.round(seconds * 1e6) / 1e3,
    },
    'admission decision',
  );
  return outcome;
}

const tls = { ...TLS_SETTINGS, cert: readFileSync(values.cert!), key: readFileSync(values.key!) };
if (values.variant === 'raw') {
  const server = https.createServer({ ...tls, keepAliveTimeout: config.server.keepAliveTimeoutMs, requestTimeout: 30_000 }, (req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}');
      return;
    }
    const endpoint = req.url === '/mutate' ? 'mutate' : 'validate';
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const outcome = await decide(endpoint, JSON.parse(Buffer.concat(chunks).toString('utf8')));
      const text = JSON.stringify(outcome.body);
      res.writeHead(outcome.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
    });
  });
  server.listen(Number(values.port), '127.0.0.1');
} else {
  const app = Fastify({
    https: tls,
    bodyLimit: config.server.bodyLimitBytes,
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    requestTimeout: 30_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  if (values.parser === 'json') {
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch (error) {
        (error as { statusCode?: number }).statusCode = 400;
        done(error as Error);
      }
    });
  }
  for (const endpoint of ['mutate', 'validate'] as const) {
    app.post(`/${endpoint}`, async (request, reply) => {
      const outcome = await decide(endpoint, request.body);
      return reply.code(outcome.statusCode).send(outcome.body);
    });
  }
  app.get('/readyz', async () => ({ status: 'ready' }));
  await app.listen({ port: Number(values.port), host: '127.0.0.1' });
}
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    dest?.flushSync?.();
    process.exit(0);
  });
}
