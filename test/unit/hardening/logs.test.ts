// Logs carry names, never bodies: whatever the requests and the cluster view
// hold (GatewayParameters env values, annotations, malformed or oversized
// bodies), no log line at any level repeats it, and decision lines have a
// fixed set of fields.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestClusterSource } from '../../../src/cluster/clusterSource.js';
import { parseConfig, ruleSettings } from '../../../src/config/config.js';
import { viewOptionsFor } from '../../../src/cluster/inMemoryClusterView.js';
import { startWebhookServer, type RunningWebhookServer } from '../../../src/cli/composition.js';
import { gateway, httpListenerPolicy } from '../../support/builders.js';
import { requestFor } from './arbitraries.js';
import { makeCa, makeLeaf, post, spawnServe, tlsDir, type Pem, type SpawnedServer } from './support.js';

// Markers that must never reach a log line.
const SECRET = {
  envValue: 'env-value-3f9c1e77',
  token: 'Bearer tok-8d2a55aa',
  annotation: 'annotation-value-c0ffee11',
  spec: 'spec-value-7b7b7b7b',
  malformed: 'malformed-body-4e4e4e4e',
  oversized: 'oversized-body-5a5a5a5a',
  processEnv: 'process-env-9a9a9a9a',
};

const gatewayParameters = {
  apiVersion: 'gateway.kgateway.dev/v1alpha1',
  kind: 'GatewayParameters',
  metadata: { name: 'agentgateway-otel', namespace: 'kgateway', annotations: { note: SECRET.annotation } },
  spec: {
    kube: {
      agentgateway: {
        enabled: true,
        env: [
          { name: 'OTEL_EXPORTER_OTLP_HEADERS', value: `authorization=${SECRET.token}` },
          { name: 'API_KEY', value: SECRET.envValue },
        ],
      },
    },
  },
};

const ALLOWED_DECISION_FIELDS = ['level', 'time', 'pid', 'hostname', 'service', 'msg', 'endpoint', 'uid', 'kind', 'operation', 'namespace', 'name', 'decision', 'durationMs', 'reason'];
const ALLOWED_REJECTION_FIELDS = ['level', 'time', 'pid', 'hostname', 'service', 'msg', 'endpoint', 'statusCode', 'reason', 'remoteAddress'];

let manifestsDir: string;
let ca: Pem;
let files: Awaited<ReturnType<typeof tlsDir>>;
let server: RunningWebhookServer;
const lines: string[] = [];
const spawned: SpawnedServer[] = [];

beforeAll(async () => {
  manifestsDir = await mkdtemp(join(tmpdir(), 'kga-logs-'));
  await writeFile(join(manifestsDir, 'params.yaml'), stringify(gatewayParameters));
  ca = await makeCa('kga-logs-ca');
  files = await tlsDir(await makeLeaf(ca, { commonName: '127.0.0.1', usage: 'server' }));
  const config = parseConfig({ server: { port: 0, metricsPort: 0, bodyLimitBytes: 64 * 1024 } });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  server = await startWebhookServer({
    config,
    source: await manifestClusterSource(['examples', manifestsDir], viewOptionsFor(ruleSettings(config))),
    // The most verbose level: nothing may be hidden behind it either.
    logger: pino({ level: 'trace' }, sink),
    tls: { certFile: files.certFile, keyFile: files.keyFile },
  });
});
afterAll(async () => {
  await server?.close();
  await Promise.all(spawned.map((s) => s.kill('SIGKILL')));
});

function expectNoSecrets(text: string): void {
  for (const [what, marker] of Object.entries(SECRET)) expect(text, what).not.toContain(marker);
}

describe('log lines', () => {
  it('name objects and decisions but never repeat bodies, env values or malformed input, at trace level', async () => {
    const review = (req: unknown) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req });
    const withSecrets = <T extends Record<string, any>>(object: T): T => ({
      ...object,
      metadata: { ...object.metadata, annotations: { note: SECRET.annotation } },
      spec: { ...object.spec, secretish: SECRET.spec },
    });
    const bodies: [string, string | Buffer, string?][] = [
      ['/mutate', review(requestFor(withSecrets(gateway()) as never, 'CREATE', 'gw'))],
      ['/mutate', review(requestFor(withSecrets(gateway()) as never, 'UPDATE', 'gw-update'))],
      ['/validate', review(requestFor(withSecrets(httpListenerPolicy({ otelAccessLogRefs: [{ name: 'x', namespace: 'tracing' }] })) as never, 'CREATE', 'denied'))],
      ['/validate', review(requestFor(gatewayParameters as never, 'CREATE', 'params'))],
      ['/mutate', review(requestFor(gatewayParameters as never, 'UPDATE', 'params-update'))],
      ['/validate', `{"apiVersion":"admission.k8s.io/v1","request":{"object":"${SECRET.malformed}"`],
      ['/validate', review({ uid: 'bad', kind: {}, operation: 'CREATE', object: { spec: SECRET.malformed } })],
      ['/validate', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'v1beta1', object: { spec: SECRET.malformed } } })],
      ['/validate', `apiVersion: ${SECRET.malformed}`, 'application/yaml'],
      ['/validate', JSON.stringify({ pad: `${SECRET.oversized}${'x'.repeat(70 * 1024)}` })],
    ];
    for (const [path, body, contentType] of bodies) {
      await post(`${server.url}${path}`, body, { ca: ca.certPem, ...(contentType ? { contentType } : {}) });
    }
    const all = lines.join('\n');
    expectNoSecrets(all);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const decisions = parsed.filter((l) => l.msg === 'admission decision');
    const rejections = parsed.filter((l) => l.msg === 'rejected admission request');
    expect(decisions.length).toBeGreaterThanOrEqual(7);
    expect(rejections.length).toBeGreaterThanOrEqual(2);
    for (const line of decisions) for (const key of Object.keys(line)) expect(ALLOWED_DECISION_FIELDS, `decision field ${key}`).toContain(key);
    for (const line of rejections) for (const key of Object.keys(line)) expect(ALLOWED_REJECTION_FIELDS, `rejection field ${key}`).toContain(key);
    // Names are there: what a person needs to find the object.
    expect(decisions.find((l) => l.uid === 'params')).toMatchObject({ kind: 'GatewayParameters', namespace: 'kgateway', name: 'agentgateway-otel', decision: 'allowed' });
    expect(decisions.find((l) => l.uid === 'denied')).toMatchObject({ kind: 'HTTPListenerPolicy', name: 'logging-policy', decision: 'denied' });
  });

  it('hold names and namespaces from the request as strings of at most 253 characters, whatever was sent', async () => {
    // Past the envelope, metadata is whatever the client sent: a 2 MB name
    // once added 2 MB to the log, an object namespace was written as nested JSON.
    const config = parseConfig({ server: { port: 0, metricsPort: 0 } });
    const own: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        own.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        callback();
      },
    });
    const big = await startWebhookServer({
      config,
      source: await manifestClusterSource(['examples'], viewOptionsFor(ruleSettings(config))),
      logger: pino({ level: 'info' }, sink),
      tls: { certFile: files.certFile, keyFile: files.keyFile },
    });
    try {
      const send = async (uid: string, metadata: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
        const policy = { ...httpListenerPolicy(), metadata };
        const request = { ...requestFor(policy as never, 'CREATE', uid), ...extra };
        const answer = await post(`${big.url}/validate`, JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }), { ca: ca.certPem });
        expect(answer.status, answer.text.slice(0, 200)).toBe(200);
      };
      const hugeName = `n${'x'.repeat(2 * 1024 * 1024)}`;
      await send('huge-name', { name: hugeName, namespace: 'kgateway' }, { name: undefined });
      await send('object-namespace', { name: 'p', namespace: { nested: { deeper: 'yes' } } }, { namespace: undefined });
      await send('number-name', { name: 42, namespace: ['a', 'b'] }, { name: undefined, namespace: undefined });
      await send('huge-kind', { name: 'p', namespace: 'kgateway' }, { kind: { group: 'gateway.kgateway.dev', version: 'v1alpha1', kind: `K${'k'.repeat(100_000)}` } });
      // A header is a string too: the content-type echoed in a rejection is cut as well.
      const oddType = await post(`${big.url}/validate`, '{}', { ca: ca.certPem, contentType: `text/${'x'.repeat(10_000)}` });
      expect(oddType.status).toBe(415);
      const decisions = own.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'admission decision');
      for (const line of own) expect(line.length).toBeLessThan(1500);
      for (const line of decisions) {
        for (const field of ['uid', 'kind', 'namespace', 'name']) {
          if (field in line) expect(typeof line[field], `${String(line.uid)}: ${field}`).toBe('string');
        }
      }
      const byUid = (uid: string) => decisions.find((l) => l.uid === uid)!;
      expect(byUid('huge-name').name).toBe(`${hugeName.slice(0, 253)}…`);
      expect(byUid('object-namespace')).toMatchObject({ name: 'p', namespace: '<object>' });
      expect(byUid('number-name')).toMatchObject({ name: '<number>', namespace: '<array>' });
      expect((byUid('huge-kind').kind as string).length).toBe(254);
    } finally {
      await big.close();
    }
  });

  it('of serve as a process, at debug level, hold none of them either, nor the environment', async () => {
    const config = files.file('config.yaml');
    await writeFile(config, 'logLevel: debug\n');
    const served = await spawnServe(['--config', config, '--manifests', 'examples', '--manifests', manifestsDir, '--tls-cert', files.certFile, '--tls-key', files.keyFile], {
      env: { KGA_TEST_SECRET: SECRET.processEnv, OTEL_EXPORTER_OTLP_HEADERS: SECRET.token },
    });
    spawned.push(served);
    const review = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: requestFor(gatewayParameters as never, 'CREATE', 'spawned') });
    await post(`${served.url}/validate`, review, { ca: ca.certPem });
    await post(`${served.url}/mutate`, `{"broken": "${SECRET.malformed}`, { ca: ca.certPem });
    await served.kill('SIGTERM');
    expect(served.logLines().some((l) => l.uid === 'spawned')).toBe(true);
    expectNoSecrets(served.output());
  });

  it('of serve as a process reach stdout within moments while it keeps running, though buffered', async () => {
    const served = await spawnServe(['--manifests', 'examples', '--tls-cert', files.certFile, '--tls-key', files.keyFile]);
    spawned.push(served);
    const review = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: requestFor(gatewayParameters as never, 'CREATE', 'prompt-line') });
    await post(`${served.url}/validate`, review, { ca: ca.certPem });
    const sent = Date.now();
    while (!served.logLines().some((l) => l.uid === 'prompt-line') && Date.now() - sent < 2_000) await new Promise((r) => setTimeout(r, 10));
    expect(served.logLines().some((l) => l.uid === 'prompt-line')).toBe(true);
    expect(served.child.exitCode).toBeNull();
    await served.kill('SIGTERM');
  });
});
