// The ReferenceGrant reads made before a denial (issue 17 items 1, 3, 4),
// against a real kube-apiserver. The server's cluster source reaches it through
// test/support/apiRelay.ts, which can hold an answer the API server has already
// served: the one fault the real API server will not produce on cue.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApi } from '../../src/kube/kubeApi.js';
import { LiveClusterSource } from '../../src/cluster/liveClusterSource.js';
import type { RereadResult } from '../../src/cluster/grantRereads.js';
import { startApiRelay, type ApiRelay } from '../support/apiRelay.js';
import { admissionRequest, admissionReview, httpListenerPolicy, referenceGrant } from '../support/builders.js';
import { kubeRequest, registerWebhooks, requireControlPlane, startControlPlane, unregisterWebhooks, type ControlPlane } from '../../harness/index.ts';
import { httpsRequest } from '../support/https.js';
import { startInProcessWebhook, type InProcessWebhook } from '../support/webhookInProcess.js';
import { create, ensureNamespaces, PATHS, pollUntil, viewSettings } from './support.js';

const skip = await requireControlPlane();
const from = { group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: 'kgateway' };
const to = (name: string) => ({ group: '', kind: 'Service', namespace: 'monitoring', name });
const isGrantList = (namespace: string) => (path: string) => path.includes(`/namespaces/${namespace}/referencegrants`) && !path.includes('watch=');
const ref = (name: string, namespace = 'monitoring') => ({ name, namespace, port: 4317 });

describe.skipIf(skip)('re-reads of ReferenceGrants before a denial, against a real kube-apiserver', () => {
  let cp: ControlPlane;
  let relay: ApiRelay;
  let source: LiveClusterSource;
  let webhook: InProcessWebhook;
  const rereads: RereadResult[] = [];

  /** LISTs of namespaced ReferenceGrants the API server has served, from its own /metrics. */
  async function apiServerGrantLists(): Promise<number> {
    const res = await kubeRequest(cp.kubeConfig, 'GET', '/metrics');
    expect(res.status).toBe(200);
    return String(res.text)
      .split('\n')
      .filter((l) => l.startsWith('apiserver_request_total{') && l.includes('resource="referencegrants"') && l.includes('verb="LIST"') && l.includes('scope="namespace"'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  }

  /** An AdmissionReview sent straight to /validate, as any client that reaches the port can. */
  async function validateDirectly(policy: ReturnType<typeof httpListenerPolicy>, dryRun = false) {
    const body = admissionReview({ ...admissionRequest(policy), dryRun });
    const res = await httpsRequest(`${webhook.server.url}/validate`, { body: JSON.stringify(body), ca: webhook.ca });
    expect(res.status).toBe(200);
    return res.json().response as { allowed: boolean; status?: { code: number; message: string } };
  }

  beforeAll(async () => {
    cp = await startControlPlane();
    await ensureNamespaces(cp.kubeConfig, 'kgateway', 'monitoring');
    relay = await startApiRelay(cp.kubeConfig);
    source = new LiveClusterSource({
      api: new KubeApi(relay.kubeConfig),
      logger: pino({ level: process.env.DEBUG_E2E ? 'debug' : 'silent' }),
      settings: viewSettings(),
      rereads: { onReread: (result) => rereads.push(result) },
    });
    webhook = await startInProcessWebhook({ source });
    await pollUntil('sync', async () => (source.notReadyReason() === undefined ? true : undefined), 30_000).catch((error: Error) => {
      throw new Error(`${error.message}: ${source.notReadyReason()}; relayed ${relay.paths.join(' ')}`);
    });
    await registerWebhooks(cp.kubeConfig, { url: webhook.server.url, caPem: webhook.ca, failurePolicy: 'Fail', timeoutSeconds: 15 });
  });
  afterAll(async () => {
    if (cp) await unregisterWebhooks(cp.kubeConfig).catch(() => undefined);
    await webhook?.server.close();
    await relay?.close();
    await cp?.stop();
  });

  it('item 1: a grant deleted while a re-read is in flight stays deleted (the stale LIST never reaches the watch-fed view)', async () => {
    const doomed = await create(cp.kubeConfig, PATHS.referenceGrants('monitoring'), referenceGrant({ name: 'doomed', to: [{ name: 'doomed' }] }));
    expect(doomed.status, doomed.text).toBe(201);
    await pollUntil('the grant in the view', async () => (source.view.isReferenceGranted(from, to('doomed')) ? true : undefined));

    // A denied create through the API server starts a re-read of monitoring; its answer, with the grant, is held.
    relay.holdAnswers(isGrantList('monitoring'));
    const trigger = create(cp.kubeConfig, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'trigger', otelAccessLogRefs: [ref('nobody')] }));
    await pollUntil('the re-read LIST, served with the grant and held', async () => (relay.held.some((h) => h.body.includes('"doomed"')) ? true : undefined));

    // Meanwhile the grant is deleted, and the watch tells the view.
    const deleted = await kubeRequest(cp.kubeConfig, 'DELETE', `${PATHS.referenceGrants('monitoring', 'v1')}/doomed`);
    expect(deleted.status, deleted.text).toBe(200);
    await pollUntil('the deletion in the view', async () => (!source.view.isReferenceGranted(from, to('doomed')) ? true : undefined));

    // The older list arrives after the deletion.
    relay.release();
    const denied = await trigger;
    expect(denied.status, denied.text).toBe(403);
    expect(denied.body.message).toContain('Service monitoring/nobody');

    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(source.view.isReferenceGranted(from, to('doomed'))).toBe(false);
    // Through the real API server and /validate: the deleted grant allows nothing.
    const after = await create(cp.kubeConfig, PATHS.httpListenerPolicies('kgateway'), httpListenerPolicy({ name: 'after-delete', otelAccessLogRefs: [ref('doomed')] }));
    expect(after.status, after.text).toBe(403);
    expect(after.body.message).toContain('Service monitoring/doomed');
  });

  it('item 3: concurrent denials of one namespace share LISTs (one in flight, one waiting), dry-runs included', async () => {
    const before = relay.paths.filter(isGrantList('monitoring')).length;
    const rereadsBefore = rereads.length;
    relay.holdAnswers(isGrantList('monitoring'));
    const reviews = Array.from({ length: 30 }, (_, i) => validateDirectly(httpListenerPolicy({ name: `p${i}`, otelAccessLogRefs: [ref('nobody')] }), i % 2 === 0));
    await pollUntil('the first LIST held', async () => (relay.held.length === 1 ? true : undefined));
    // Every one of the 30 has asked for its re-read before the held LIST is
    // released (a loaded machine can be slow to send them all); one that asked
    // after the release would rightly need a LIST of its own.
    await pollUntil('all 30 re-reads asked for', async () => (rereads.length - rereadsBefore >= 30 ? true : undefined), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(relay.paths.filter(isGrantList('monitoring')).length - before).toBe(1);
    relay.release();
    for (const response of await Promise.all(reviews)) {
      expect(response.allowed).toBe(false);
      expect(response.status!.message).toContain('Service monitoring/nobody');
    }
    expect(relay.paths.filter(isGrantList('monitoring')).length - before).toBe(2);
  });

  it('item 3: one review re-reads at most 8 namespaces, counted by the API server itself, and says the re-check was limited', async () => {
    const namespaces = Array.from({ length: 50 }, (_, i) => `team-${String(i).padStart(2, '0')}`);
    const before = await apiServerGrantLists();
    rereads.length = 0;
    const response = await validateDirectly(httpListenerPolicy({ name: 'wide', otelAccessLogRefs: namespaces.map((ns) => ref('collector', ns)) }));
    expect(response.allowed).toBe(false);
    expect(await apiServerGrantLists()).toBe(before + 8);
    expect(response.status!.message).toContain('The re-check was limited: the ReferenceGrants of team-08, team-09,');
    expect(response.status!.message).toContain('and 32 more (at most 8 namespaces are re-read per request)');
    expect(rereads.filter((r) => r === 'listed')).toHaveLength(8);
    expect(rereads.filter((r) => r === 'request-limit')).toHaveLength(42);
  });

  it('item 4: a backendRef namespace that is not a namespace name is denied before any request reaches the API server', async () => {
    const before = relay.paths.filter((p) => !p.includes('watch=')).length;
    const response = await validateDirectly(httpListenerPolicy({ name: 'escape', otelAccessLogRefs: [ref('x', 'x1/../../gatewayclasses?')] }));
    expect(response.allowed).toBe(false);
    expect(response.status!.message).toContain('namespace "x1/../../gatewayclasses?" is not a valid namespace name');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(relay.paths.filter((p) => !p.includes('watch=')).slice(before)).toEqual([]);
    expect(relay.paths.some((p) => p.includes('gatewayclasses?/'))).toBe(false);
  });
});
