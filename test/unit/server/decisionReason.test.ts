// The decision line says why a write was denied or warned (operators grep
// the logs for it), bounded to 1 KiB; warn mode is counted as its own
// decision. Through the real server over HTTPS, the cluster view from files.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestClusterSource } from '../../../src/cluster/clusterSource.js';
import { ENFORCEMENT_LABEL } from '../../../src/rules/enforcement.js';
import { boundedReason, MAX_REASON_BYTES } from '../../../src/logging/decisionLog.js';
import { admissionRequest, admissionReview, backendRef, httpListenerPolicy } from '../../support/builders.js';
import { httpsRequest, plainHttpRequest } from '../../support/https.js';
import { startInProcessWebhook, type InProcessWebhook } from '../../support/webhookInProcess.js';

let dir: string;
let webhook: InProcessWebhook;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kga-reason-'));
  await writeFile(join(dir, 'namespaces.yaml'), stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-warn', labels: { [ENFORCEMENT_LABEL]: 'warn' } } }));
  webhook = await startInProcessWebhook({ source: await manifestClusterSource([dir]) });
});
afterAll(async () => {
  await webhook?.server.close();
  await rm(dir, { recursive: true, force: true });
});

const validate = async (object: ReturnType<typeof httpListenerPolicy>) => {
  const request = admissionRequest(object);
  const res = await httpsRequest(`${webhook.server.url}/validate`, { body: JSON.stringify(admissionReview(request)), ca: webhook.ca });
  expect(res.status).toBe(200);
  return { response: res.json().response, line: webhook.logLines().find((l) => l.uid === request.uid)! };
};

async function requestsTotal(decision: string): Promise<number> {
  const { text } = await plainHttpRequest(`${webhook.server.metricsUrl}/metrics`);
  const match = text.match(new RegExp(`kgateway_admission_requests_total\\{endpoint="validate",kind="HTTPListenerPolicy",operation="CREATE",decision="${decision}"\\} (\\d+)`));
  return Number(match?.[1] ?? 0);
}

describe('decision lines and counts', () => {
  it('count a warn-mode admission as decision="warned" and log the refs it let through', async () => {
    const [warnedBefore, deniedBefore] = [await requestsTotal('warned'), await requestsTotal('denied')];
    const { response, line } = await validate(httpListenerPolicy({ name: 'rolling-out', namespace: 'team-warn' }));
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual(['admitted in warn mode: no ReferenceGrant allows Service monitoring/otel-collector-collector']);
    expect(line).toMatchObject({
      msg: 'admission decision',
      namespace: 'team-warn',
      name: 'rolling-out',
      decision: 'warned',
      reason: 'no ReferenceGrant allows spec.accessLog[0].openTelemetry.grpcService.backendRef -> Service monitoring/otel-collector-collector',
    });
    expect(await requestsTotal('warned')).toBe(warnedBefore + 1);
    expect(await requestsTotal('denied')).toBe(deniedBefore);
  });

  it('log the refs of a denial, and no reason for a plain allow', async () => {
    const denied = await validate(httpListenerPolicy({ name: 'strict', accessLogRefs: [backendRef({ name: 'tempo', namespace: 'tracing' })] }));
    expect(denied.response.allowed).toBe(false);
    expect(denied.line).toMatchObject({
      decision: 'denied',
      reason:
        'no ReferenceGrant allows spec.accessLog[0].grpcService.backendRef -> Service tracing/tempo; spec.accessLog[1].openTelemetry.grpcService.backendRef -> Service monitoring/otel-collector-collector',
    });
    const allowed = await validate(httpListenerPolicy({ name: 'local', otelAccessLogRefs: [backendRef({ namespace: 'kgateway' })] }));
    expect(allowed.line.decision).toBe('allowed');
    expect(allowed.line).not.toHaveProperty('reason');
  });

  it('bound the reason of a huge denial to 1 KiB, on one line', async () => {
    const refs = Array.from({ length: 2_000 }, (_, i) => backendRef({ name: `${'n'.repeat(240)}-${i}` }));
    const { response, line } = await validate(httpListenerPolicy({ name: 'huge', otelAccessLogRefs: refs }));
    expect(response.allowed).toBe(false);
    const reason = line.reason as string;
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(MAX_REASON_BYTES);
    expect(Buffer.byteLength(reason)).toBeGreaterThan(MAX_REASON_BYTES - 300);
    expect(reason.startsWith(`no ReferenceGrant allows spec.accessLog[0].openTelemetry.grpcService.backendRef -> Service monitoring/${'n'.repeat(240)}-0; `)).toBe(true);
    expect(reason.endsWith('…')).toBe(true);
    expect(reason).not.toContain('\n');
  });
});

describe('boundedReason', () => {
  it('keeps a short reason, joins lines, and cuts a long one at a character boundary within 1 KiB of UTF-8', () => {
    expect(boundedReason('short')).toBe('short');
    expect(boundedReason('line one\n- line two\n')).toBe('line one - line two ');
    const wide = '€'.repeat(400); // 3 bytes each: 1,200 bytes
    const cut = boundedReason(wide);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_REASON_BYTES);
    expect(cut).toBe(`${'€'.repeat(340)}…`);
    const astral = boundedReason('😀'.repeat(300)); // 4 bytes, two UTF-16 units each
    expect(Buffer.byteLength(astral)).toBeLessThanOrEqual(MAX_REASON_BYTES);
    expect(astral).toBe(`${'😀'.repeat(255)}…`);
  });
});
