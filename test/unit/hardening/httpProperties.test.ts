// Property-based tests of the HTTP handlers: arbitrary bytes, content types,
// truncated and mutated AdmissionReviews, and policies with an ungranted
// cross-namespace ref, sent through Fastify's inject() on buildApp and, fewer,
// over real HTTPS to the running server. Every answer is a well-formed
// AdmissionReview (200) or a 4xx AdmissionReview with a reason; never a 5xx,
// and never an allowed policy with an ungranted ref.
import fc from 'fast-check';
import { Agent } from 'node:https';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionEngine } from '../../../src/admission/admissionEngine.js';
import { manifestClusterSource } from '../../../src/cluster/clusterSource.js';
import { InMemoryClusterView } from '../../../src/cluster/inMemoryClusterView.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { buildApp } from '../../../src/server/app.js';
import { generateCertificates } from '../../../src/certificates/generate.js';
import { AdmissionMetrics } from '../../../src/server/metrics.js';
import { buildRuleSet } from '../../../src/rules/ruleSet.js';
import { startWebhookServer, type RunningWebhookServer } from '../../../src/cli/composition.js';
import type { FastifyInstance } from 'fastify';
import { arbitraryBodyArb, granted, grantObject, mutatedReviewArb, policyCaseArb, SCAN_KIND, type Grant } from './arbitraries.js';
import { makeCa, makeLeaf, post, tlsDir } from './support.js';
import { checkReviewAnswer } from './wellFormed.js';

const config = parseConfig({ validation: { scanKinds: [SCAN_KIND] }, server: { port: 0, metricsPort: 0 } });
const settings = ruleSettings(config);

// The one grant of examples/: monitoring lets kgateway's HTTPListenerPolicies refer to Service otel-collector-collector.
const EXAMPLE_GRANTS: Grant[] = [
  { namespace: 'monitoring', name: 'allow-otel-collector-access', from: [{ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway' }], to: [{ group: '', kind: 'Service', name: 'otel-collector-collector' }] },
];

let app: FastifyInstance;
let server: RunningWebhookServer;
let ca: string;
let agent: Agent;
let cases = 0;
const runs = (numRuns: number) => {
  cases += numRuns;
  return { numRuns };
};

beforeAll(async () => {
  const certificates = await generateCertificates(['127.0.0.1']);
  app = buildApp({
    engine: new AdmissionEngine({ ruleSet: buildRuleSet(settings), view: InMemoryClusterView.fromObjects(EXAMPLE_GRANTS.map((g) => grantObject(g)), viewOptionsFor(settings)) }),
    logger: pino({ level: 'silent' }),
    metrics: new AdmissionMetrics({ defaultMetrics: false }),
    tls: { cert: Buffer.from(certificates.cert), key: Buffer.from(certificates.key) },
    settings: config.server,
    notReadyReason: () => undefined,
  });
  await app.ready();

  const serverCa = await makeCa('kga-http-properties-ca');
  const files = await tlsDir(await makeLeaf(serverCa, { commonName: '127.0.0.1', usage: 'server' }));
  server = await startWebhookServer({
    config,
    settings,
    source: await manifestClusterSource(['examples'], viewOptionsFor(settings)),
    logger: pino({ level: 'silent' }),
    tls: { certFile: files.certFile, keyFile: files.keyFile },
  });
  ca = serverCa.certPem;
  agent = new Agent({ keepAlive: true, maxSockets: 4, ca });
});
afterAll(async () => {
  agent?.destroy();
  await app?.close();
  await server?.close();
  process.stderr.write(`[hardening] property cases over HTTP (inject and real HTTPS): ${cases}\n`);
});

interface Wire {
  payload: string | Buffer;
  contentType: string | undefined;
  /** What the payload parses to, when it is JSON. */
  parsed: unknown;
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'text/plain', 'application/yaml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined] as const;

function parsedOf(payload: string | Buffer): unknown {
  try {
    return JSON.parse(payload.toString());
  } catch {
    return undefined;
  }
}

/** Bodies as bytes on the wire: JSON of arbitrary and mutated reviews, truncated JSON, arbitrary text and bytes. */
const wireArb: fc.Arbitrary<Wire> = fc
  .tuple(
    fc.oneof(
      { weight: 4, arbitrary: arbitraryBodyArb.map((b) => JSON.stringify(b)) },
      { weight: 2, arbitrary: fc.tuple(mutatedReviewArb, fc.nat()).map(([b, cut]) => { const text = JSON.stringify(b); return text.slice(0, cut % (text.length + 1)); }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) },
      { weight: 1, arbitrary: fc.constantFrom('', 'null', '[]', '{}', '"x"', '1e400', '{"__proto__":{"a":1}}', '{"constructor":{"prototype":{"a":1}}}', '\uFEFF{}') },
    ),
    fc.oneof({ weight: 5, arbitrary: fc.constant('application/json') }, { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) }),
  )
  .map(([payload, contentType]) => ({ payload, contentType, parsed: parsedOf(payload) }));

function checkHttpAnswer(status: number, text: string, wire: Wire, endpoint: 'mutate' | 'validate'): void {
  expect(status, text).toBeLessThan(500);
  const answer = JSON.parse(text) as unknown;
  checkReviewAnswer(status, answer, wire.parsed, endpoint);
}

describe('HTTP handlers via inject()', () => {
  it('answer arbitrary bodies and content types with a well-formed AdmissionReview or a 4xx AdmissionReview with a reason', async () => {
    await fc.assert(
      fc.asyncProperty(wireArb, fc.constantFrom('mutate' as const, 'validate' as const), async (wire, endpoint) => {
        const res = await app.inject({ method: 'POST', url: `/${endpoint}`, payload: wire.payload, headers: wire.contentType === undefined ? {} : { 'content-type': wire.contentType } });
        checkHttpAnswer(res.statusCode, res.body, wire, endpoint);
      }),
      runs(2_000),
    );
  });

  it('never allow a policy with an ungranted cross-namespace ref', async () => {
    await fc.assert(
      fc.asyncProperty(policyCaseArb(), async (c) => {
        fc.pre(!granted(EXAMPLE_GRANTS, c.from, c.probe.target));
        const payload = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: c.request });
        const res = await app.inject({ method: 'POST', url: '/validate', payload, headers: { 'content-type': 'application/json' } });
        checkHttpAnswer(res.statusCode, res.body, { payload, contentType: 'application/json', parsed: parsedOf(payload) }, 'validate');
        expect(res.json().response.allowed).toBe(false);
      }),
      runs(1_000),
    );
  });
});

describe('the running server over real HTTPS', () => {
  it('answers arbitrary bodies well, and never allows an ungranted cross-namespace ref', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          wireArb.map((wire) => ({ wire, ungranted: false })),
          policyCaseArb()
            .filter((c) => !granted(EXAMPLE_GRANTS, c.from, c.probe.target))
            .map((c) => {
              const payload = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: c.request });
              return { wire: { payload, contentType: 'application/json', parsed: parsedOf(payload) } as Wire, ungranted: true };
            }),
        ),
        fc.constantFrom('mutate' as const, 'validate' as const),
        async ({ wire, ungranted }, endpoint) => {
          const path = ungranted ? 'validate' : endpoint;
          const answer = await post(`${server.url}/${path}`, wire.payload, { ca, agent, ...(wire.contentType === undefined ? { contentType: '' } : { contentType: wire.contentType }) });
          checkHttpAnswer(answer.status, answer.text, wire, path);
          if (ungranted) expect(JSON.parse(answer.text).response.allowed).toBe(false);
        },
      ),
      runs(500),
    );
  });
});
