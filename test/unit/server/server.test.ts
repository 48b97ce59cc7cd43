import { Agent } from 'node:https';
import fastJsonPatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpListenerPolicy, admissionRequest, admissionReview, gateway } from '../../support/builders.js';
import { httpsRequest, plainHttpRequest } from '../../support/https.js';
import { startInProcessWebhook, type InProcessWebhook } from '../../support/webhookInProcess.js';

let webhook: InProcessWebhook;
let empty: InProcessWebhook;

beforeAll(async () => {
  webhook = await startInProcessWebhook({ manifests: ['examples'], config: { server: { bodyLimitBytes: 64 * 1024 } } });
  empty = await startInProcessWebhook();
});
afterAll(async () => {
  await webhook?.server.close();
  await empty?.server.close();
});

const post = (target: InProcessWebhook, path: string, body: unknown, contentType?: string) =>
  httpsRequest(`${target.server.url}${path}`, {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ca: target.ca,
    ...(contentType ? { contentType } : {}),
  });

describe('the webhook over real HTTPS', () => {
  it('mutates an agentgateway Gateway with a patch that applies cleanly and echoes the uid', async () => {
    const request = admissionRequest(gateway());
    const res = await post(webhook, '/mutate', admissionReview(request));
    expect(res.status).toBe(200);
    const review = res.json();
    expect(review).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.uid, allowed: true, patchType: 'JSONPatch' } });
    const patch = JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8'));
    expect(fastJsonPatch.validate(patch, gateway())).toBeUndefined();
    const patchedGateway = fastJsonPatch.applyPatch(gateway(), patch).newDocument;
    expect(patchedGateway.spec).toMatchObject({
      infrastructure: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'agentgateway-otel' } },
    });
  });

  it('allows the brief policy when the grant is in the view, and denies it with 403 and the fix when not', async () => {
    const request = admissionRequest(httpListenerPolicy());
    const ok = (await post(webhook, '/validate', admissionReview(request))).json();
    expect(ok.response).toEqual({ uid: request.uid, allowed: true });
    const denied = (await post(empty, '/validate', admissionReview(request))).json();
    expect(denied.response.uid).toBe(request.uid);
    expect(denied.response.allowed).toBe(false);
    expect(denied.response.status.code).toBe(403);
    expect(denied.response.status.message).toContain('kind: ReferenceGrant');
    expect(denied.response.patch).toBeUndefined();
  });

  it.each<[string, string | unknown, string | undefined, number, RegExp]>([
    ['malformed JSON', '{"apiVersion": ', undefined, 400, /not valid JSON/],
    ['an empty body', '', undefined, 400, /empty|not valid JSON/],
    ['JSON that is not an AdmissionReview', { hello: 'world' }, undefined, 400, /invalid AdmissionReview: body is missing apiVersion/],
    ['a JSON array', '[1,2]', undefined, 400, /expected a JSON object/],
    ['a review without uid', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: {}, operation: 'CREATE' } }, undefined, 400, /missing uid/],
    ['a non-JSON content type', 'apiVersion: v1', 'application/yaml', 415, /unsupported content type "application\/yaml"/],
    ['a body over the limit', JSON.stringify({ pad: 'x'.repeat(70 * 1024) }), undefined, 413, /larger than the limit of 65536 bytes/],
  ])('answers %s with an AdmissionReview carrying the reason, and stays up', async (_name, body, contentType, status, reason) => {
    const res = await post(webhook, '/validate', body, contentType);
    expect(res.status).toBe(status);
    const review = res.json();
    expect(review).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { allowed: false, status: { code: status } } });
    expect(review.response.status.message).toMatch(reason);
    const health = await httpsRequest(`${webhook.server.url}/healthz`, { ca: webhook.ca });
    expect(health.status).toBe(200);
  });

  describe('reading the body (plain JSON.parse for application/json)', () => {
    it('says which: an empty body and invalid JSON get their own fixed reasons, which never echo the body', async () => {
      const empty = await post(webhook, '/validate', '');
      expect(empty.status).toBe(400);
      expect(empty.json().response.status.message).toBe('request body is empty: send an AdmissionReview');
      const marker = 'not-json-marker-1f2e3d';
      const bad = await post(webhook, '/validate', `{"apiVersion": ${marker}`);
      expect(bad.status).toBe(400);
      expect(bad.json().response.status.message).toMatch(/^request body is not valid JSON/);
      expect(bad.text).not.toContain(marker);
      expect(JSON.stringify(webhook.logLines())).not.toContain(marker);
    });

    it.each(['application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8'])('reads content type %s as JSON', async (contentType) => {
      const request = admissionRequest(httpListenerPolicy());
      const res = await post(webhook, '/validate', admissionReview(request), contentType);
      expect(res.status).toBe(200);
      expect(res.json().response).toEqual({ uid: request.uid, allowed: true });
    });

    it('skips a leading byte order mark, as Fastify\'s parser did', async () => {
      const request = admissionRequest(httpListenerPolicy());
      const res = await post(webhook, '/validate', `\uFEFF${JSON.stringify(admissionReview(request))}`);
      expect(res.status).toBe(200);
      expect(res.json().response).toEqual({ uid: request.uid, allowed: true });
    });

    it('decides a review whose object has "__proto__" and "constructor" keys, reading them as plain data', async () => {
      const policy = httpListenerPolicy() as Record<string, any>;
      const request = admissionRequest(policy as never);
      const text = JSON.stringify(admissionReview(request)).replace('"spec":{', '"spec":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},');
      expect(text).toContain('"__proto__"');
      const res = await post(webhook, '/validate', text);
      expect(res.status).toBe(200);
      expect(res.json().response).toEqual({ uid: request.uid, allowed: true });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  it("answers alike through the fast path (application/json) and through Fastify's routes (application/json; charset=utf-8)", async () => {
    const cases: [string, unknown][] = [
      ['/mutate', admissionReview(admissionRequest(gateway()))],
      ['/validate', admissionReview(admissionRequest(httpListenerPolicy()))],
      ['/validate', { hello: 'world' }],
      ['/validate', '{"apiVersion": '],
      ['/mutate', '[1,2]'],
    ];
    for (const [path, body] of cases) {
      const fast = await post(webhook, path, body);
      const routed = await post(webhook, path, body, 'application/json; charset=utf-8');
      expect({ status: fast.status, contentType: fast.headers['content-type'], body: fast.text }).toEqual({
        status: routed.status,
        contentType: routed.headers['content-type'],
        body: routed.text,
      });
    }
  });

  it('serves /healthz and /readyz on the admission port', async () => {
    expect((await httpsRequest(`${webhook.server.url}/healthz`, { ca: webhook.ca })).json()).toEqual({ status: 'ok' });
    expect((await httpsRequest(`${webhook.server.url}/readyz`, { ca: webhook.ca })).json()).toEqual({ status: 'ready' });
  });

  it('keeps connections alive across requests (HTTP/1.1, as the API server calls)', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<number>();
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = httpsRequest(`${webhook.server.url}/healthz`, { ca: webhook.ca, agent });
        req.then(() => resolve(), reject);
      });
      for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) ports.add(s.localPort ?? 0);
    }
    agent.destroy();
    expect(ports.size).toBe(1);
  });

  it('counts requests by endpoint, kind, operation and decision on the plain-HTTP metrics port only', async () => {
    const series = 'endpoint="validate",kind="HTTPListenerPolicy",operation="CREATE",decision="denied"';
    const count = async () => {
      const metrics = await plainHttpRequest(`${empty.server.metricsUrl}/metrics`);
      expect(metrics.status).toBe(200);
      const match = metrics.text.match(new RegExp(`kgateway_admission_requests_total\\{${series}\\} (\\d+)`));
      const bucket = metrics.text.match(new RegExp(`kgateway_admission_request_duration_seconds_count\\{${series}\\} (\\d+)`));
      return [Number(match?.[1] ?? 0), Number(bucket?.[1] ?? 0)];
    };
    const before = await count();
    await post(empty, '/validate', admissionReview(admissionRequest(httpListenerPolicy())));
    await post(empty, '/validate', admissionReview(admissionRequest(httpListenerPolicy())));
    expect(await count()).toEqual([before[0]! + 2, before[1]! + 2]);
    const onAdmissionPort = await httpsRequest(`${empty.server.url}/metrics`, { ca: empty.ca });
    expect(onAdmissionPort.status).toBe(404);
  });

  it('logs one JSON line per decision with uid, kind, namespace/name and decision, and no object body', async () => {
    const request = admissionRequest(gateway({ name: 'logged-gw' }));
    await post(webhook, '/mutate', admissionReview(request));
    const line = webhook.logLines().find((l) => l.uid === request.uid);
    expect(line).toMatchObject({ msg: 'admission decision', endpoint: 'mutate', kind: 'Gateway', operation: 'CREATE', namespace: 'kgateway', name: 'logged-gw', decision: 'patched' });
    expect(JSON.stringify(webhook.logLines())).not.toContain('listeners');
  });
});
