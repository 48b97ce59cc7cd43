// mutation.copyParameters through a real kube-apiserver calling the server in
// process: the copier (the same startParametersCopier serve runs) keeps a copy
// of the source GatewayParameters in every namespace with a matching Gateway,
// follows edits of the source, removes a copy with the last Gateway, and
// never touches an object of the same name that it did not make.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveClusterSource } from '../../src/cluster/liveClusterSource.js';
import { KubeApi } from '../../src/kube/kubeApi.js';
import { startParametersCopier, type RunningParametersCopier } from '../../src/copies/parametersCopier.js';
import { parseConfig, ruleSettings } from '../../src/config/config.js';
import { gateway } from '../support/builders.js';
import { kubeRequest, registerWebhooks, requireControlPlane, startControlPlane, type ControlPlane } from '../../harness/index.ts';
import { startInProcessWebhook, type InProcessWebhook } from '../support/webhookInProcess.js';
import { create, ensureNamespaces, PATHS, pollUntil } from './support.js';

const skip = await requireControlPlane();

const SOURCE_NS = 'kga-system';
const NAME = 'agentgateway-otel';
const OTEL_REF = { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: NAME };
const params = (ns: string) => `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${ns}/gatewayparameters`;
const envSpec = (endpoint: string) => ({ kube: { agentgateway: { enabled: true, env: [{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: endpoint }] } } });
// The bound the issue asks for (Gateway create to copy present). Measured
// figures are printed; 2 s holds on a loaded 2-core machine (one watch event
// and one POST, debounced 10 ms).
const COPY_BOUND_MS = 2_000;

describe.skipIf(skip)('parameter copies (mutation.copyParameters) through a real kube-apiserver', () => {
  let cp: ControlPlane;
  let webhook: InProcessWebhook | undefined;
  let source: LiveClusterSource | undefined;
  let copier: RunningParametersCopier | undefined;
  const kc = () => cp.kubeConfig;

  beforeAll(async () => {
    cp = await startControlPlane();
    await ensureNamespaces(kc(), SOURCE_NS);
    const created = await create(kc(), params(SOURCE_NS), { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: NAME, namespace: SOURCE_NS }, spec: envSpec('http://collector-v1.monitoring:4317') });
    expect(created.status, created.text).toBe(201);
    const config = { profile: 'kgateway-v2.1', mutation: { copyParameters: { enabled: true, sourceNamespace: SOURCE_NS } } };
    const settings = ruleSettings(parseConfig(config));
    const logger = pino({ level: 'silent' });
    const api = new KubeApi(kc());
    source = new LiveClusterSource({ api, logger, settings });
    webhook = await startInProcessWebhook({ source, config });
    copier = startParametersCopier({ api, logger, settings: { ...settings, copyParameters: settings.copyParameters! }, view: source.view, leaseNamespace: SOURCE_NS, leaseDurationSeconds: 2 });
    await pollUntil('the live view to sync', async () => (source!.notReadyReason() === undefined ? true : undefined));
    await registerWebhooks(kc(), { url: webhook.server.url, caPem: webhook.ca, failurePolicy: 'Fail' });
  });

  afterAll(async () => {
    await copier?.stop();
    await webhook?.server.close();
    await cp?.stop();
  });

  async function copyIn(ns: string): Promise<any | undefined> {
    const res = await kubeRequest(kc(), 'GET', `${params(ns)}/${NAME}`);
    return res.status === 200 ? res.body : undefined;
  }

  async function gatewayInNewNamespace(ns: string, name = 'gw'): Promise<{ createdAt: number }> {
    await ensureNamespaces(kc(), ns);
    const res = await create(kc(), PATHS.gateways(ns), gateway({ name, namespace: ns }));
    expect(res.status, res.text).toBe(201);
    // Patched though the namespace has no GatewayParameters yet: the copier puts one there.
    expect(res.body.spec.infrastructure).toEqual({ parametersRef: OTEL_REF });
    expect(res.warnings).toEqual([]);
    return { createdAt: performance.now() };
  }

  it('a new namespace + Gateway: the Gateway is patched and a labelled copy of the source is there within 2 s', async () => {
    const timings: number[] = [];
    for (const ns of ['team-a', 'team-b']) {
      await gatewayInNewNamespace(ns);
      const { value: copy, ms } = await pollUntil(`the copy in ${ns}`, () => copyIn(ns), 10_000, 10);
      timings.push(ms);
      expect(copy.spec).toEqual(envSpec('http://collector-v1.monitoring:4317'));
      expect(copy.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'kgateway-admission', 'kgateway-admission.dev/copy-of': `${SOURCE_NS}.${NAME}` });
    }
    process.stderr.write(`[e2e] parameter copies: Gateway create to copy present ${timings.map((t) => `${t.toFixed(0)} ms`).join(', ')}\n`);
    for (const t of timings) expect(t).toBeLessThan(COPY_BOUND_MS);
  });

  it('the source edited: every copy follows', async () => {
    const patched = await kubeRequest(kc(), 'PATCH', `${params(SOURCE_NS)}/${NAME}`, { body: { spec: envSpec('http://collector-v2.monitoring:4317') }, contentType: 'application/merge-patch+json' });
    expect(patched.status, patched.text).toBe(200);
    const { ms } = await pollUntil('every copy to carry the edit', async () => {
      const copies = await Promise.all(['team-a', 'team-b'].map(copyIn));
      return copies.every((c) => JSON.stringify(c?.spec) === JSON.stringify(envSpec('http://collector-v2.monitoring:4317'))) ? true : undefined;
    });
    process.stderr.write(`[e2e] parameter copies: source edit reached both copies in ${ms.toFixed(0)} ms\n`);
  });

  it('a hand-edited copy is put back to the source', async () => {
    const edited = await kubeRequest(kc(), 'PATCH', `${params('team-a')}/${NAME}`, { body: { spec: envSpec('http://elsewhere:4317') }, contentType: 'application/merge-patch+json' });
    expect(edited.status, edited.text).toBe(200);
    await pollUntil('the copy to match the source again', async () => ((await copyIn('team-a'))?.spec.kube.agentgateway.env[0].value === 'http://collector-v2.monitoring:4317' ? true : undefined));
  });

  it('the last matching Gateway deleted: the copy is removed; a namespace with a Gateway left keeps its copy', async () => {
    await gatewayInNewNamespace('team-b', 'second');
    for (const [ns, name] of [['team-a', 'gw'], ['team-b', 'gw']] as const) {
      const res = await kubeRequest(kc(), 'DELETE', `${PATHS.gateways(ns)}/${name}`);
      expect(res.status, res.text).toBe(200);
    }
    const { ms } = await pollUntil('the copy in team-a to be removed', async () => ((await copyIn('team-a')) === undefined ? true : undefined));
    process.stderr.write(`[e2e] parameter copies: copy removed ${ms.toFixed(0)} ms after the last Gateway was deleted\n`);
    // team-b still has Gateway "second": its copy stays (checked after team-a's removal, so the copier has decided since).
    expect(await copyIn('team-b')).toBeDefined();
  });

  it('a hand-made object of the same name is never overwritten nor deleted', async () => {
    await ensureNamespaces(kc(), 'team-own');
    const own = await create(kc(), params('team-own'), { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: NAME, namespace: 'team-own' }, spec: envSpec('http://team-own-collector:4317') });
    expect(own.status, own.text).toBe(201);
    const gw = await create(kc(), PATHS.gateways('team-own'), gateway({ name: 'gw', namespace: 'team-own' }));
    expect(gw.status, gw.text).toBe(201);
    // A copy made for another namespace after this Gateway shows the copier has decided on team-own too.
    await gatewayInNewNamespace('team-c');
    await pollUntil('the copy in team-c', () => copyIn('team-c'));
    const afterCreate = await copyIn('team-own');
    expect(afterCreate.metadata.resourceVersion).toBe(own.body.metadata.resourceVersion);
    expect(afterCreate.metadata.labels).toBeUndefined();
    // The source edited, and the team's Gateway deleted: still untouched, still there.
    const patched = await kubeRequest(kc(), 'PATCH', `${params(SOURCE_NS)}/${NAME}`, { body: { spec: envSpec('http://collector-v3.monitoring:4317') }, contentType: 'application/merge-patch+json' });
    expect(patched.status, patched.text).toBe(200);
    expect((await kubeRequest(kc(), 'DELETE', `${PATHS.gateways('team-own')}/gw`)).status).toBe(200);
    await pollUntil('the edit to reach team-c', async () => ((await copyIn('team-c'))?.spec.kube.agentgateway.env[0].value === 'http://collector-v3.monitoring:4317' ? true : undefined));
    const atEnd = await copyIn('team-own');
    expect(atEnd.metadata.resourceVersion).toBe(own.body.metadata.resourceVersion);
    expect(atEnd.spec).toEqual(envSpec('http://team-own-collector:4317'));
  });
});
