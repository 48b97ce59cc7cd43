// mutation.copyParameters through a real kube-apiserver, on every target
// (test/support/e2eTarget.ts): `serve` as a process, and the chart's pods on
// the node and on kind with the chart value that turns copies on (so its
// ClusterRole on the parameters kind and its Lease are what the copier runs
// with). The copier keeps a copy of the source GatewayParameters in every
// namespace with a matching Gateway, follows edits of the source, removes a
// copy with the last Gateway, and never touches an object of the same name
// that it did not make.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateway } from '../support/builders.js';
import { kubeRequest } from '../../harness/index.ts';
import { e2eTarget, type E2eCluster, type WebhookUnderTest } from '../support/e2eTarget.js';
import { create, ensureNamespaces, PATHS, pollUntil } from './support.js';

const target = await e2eTarget();

const SOURCE_NS = 'kga-copies-source';
const NAME = 'agentgateway-otel';
const OTEL_REF = { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: NAME };
const params = (ns: string) => `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${ns}/gatewayparameters`;
const envSpec = (endpoint: string) => ({ kube: { agentgateway: { enabled: true, env: [{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: endpoint }] } } });
// The bound the issue asks for (Gateway create to copy present). Measured
// figures are printed; 2 s holds on a loaded 2-core machine (one watch event
// and one POST, debounced 10 ms), in a pod as in the process.
const COPY_BOUND_MS = 2_000;
// The first copy waits for the copier to lead: on a shared cluster a Lease that
// a previous run's pod held and did not hand back expires first (15 s).
const FIRST_COPY_TIMEOUT_MS = 60_000;

describe.skipIf(target.skip)(`parameter copies (mutation.copyParameters) through a real kube-apiserver (${target.name})`, () => {
  let cluster: E2eCluster;
  let server: WebhookUnderTest;
  const kc = () => cluster.kubeConfig;

  beforeAll(async () => {
    cluster = await target.startCluster({ namespaces: [SOURCE_NS] });
    const created = await create(kc(), params(SOURCE_NS), { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'GatewayParameters', metadata: { name: NAME, namespace: SOURCE_NS }, spec: envSpec('http://collector-v1.monitoring:4317') });
    expect(created.status, created.text).toBe(201);
    // On a chart target: config.mutation.copyParameters.enabled in the chart's values.
    server = await target.startWebhook(cluster, { profile: 'kgateway-v2.1', config: { mutation: { copyParameters: { enabled: true, sourceNamespace: SOURCE_NS } } } });
    // The copier leads and has synced: a copy appears for a first Gateway (not timed).
    await gatewayInNewNamespace('copies-warmup');
    const { ms } = await pollUntil('the first copy (the copier leading)', () => copyIn('copies-warmup'), FIRST_COPY_TIMEOUT_MS, 50);
    process.stderr.write(`[e2e] parameter copies (${target.name}): first copy after ${ms.toFixed(0)} ms (the copier taking the Lease and syncing)\n`);
  });

  afterAll(async () => {
    await server?.release();
    await cluster?.stop();
  });

  async function copyIn(ns: string): Promise<any | undefined> {
    const res = await kubeRequest(kc(), 'GET', `${params(ns)}/${NAME}`);
    return res.status === 200 ? res.body : undefined;
  }

  async function gatewayInNewNamespace(ns: string, name = 'gw'): Promise<void> {
    await ensureNamespaces(kc(), ns);
    const res = await create(kc(), PATHS.gateways(ns), gateway({ name, namespace: ns }));
    expect(res.status, res.text).toBe(201);
    // Patched though the namespace has no GatewayParameters yet: the copier puts one there.
    expect(res.body.spec.infrastructure).toEqual({ parametersRef: OTEL_REF });
    expect(res.warnings).toEqual([]);
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
    process.stderr.write(`[e2e] parameter copies (${target.name}): Gateway create to copy present ${timings.map((t) => `${t.toFixed(0)} ms`).join(', ')}\n`);
    for (const t of timings) expect(t).toBeLessThan(COPY_BOUND_MS);
  });

  it('the source edited: every copy follows', async () => {
    const patched = await kubeRequest(kc(), 'PATCH', `${params(SOURCE_NS)}/${NAME}`, { body: { spec: envSpec('http://collector-v2.monitoring:4317') }, contentType: 'application/merge-patch+json' });
    expect(patched.status, patched.text).toBe(200);
    const { ms } = await pollUntil('every copy to carry the edit', async () => {
      const copies = await Promise.all(['copies-warmup', 'team-a', 'team-b'].map(copyIn));
      return copies.every((c) => JSON.stringify(c?.spec) === JSON.stringify(envSpec('http://collector-v2.monitoring:4317'))) ? true : undefined;
    });
    process.stderr.write(`[e2e] parameter copies (${target.name}): source edit reached the three copies in ${ms.toFixed(0)} ms\n`);
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
    process.stderr.write(`[e2e] parameter copies (${target.name}): copy removed ${ms.toFixed(0)} ms after the last Gateway was deleted\n`);
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

  it('one replica wrote every copy (the Lease holder), and the API server refused the copier nothing', async () => {
    const logs = await server.logs();
    expect(logs).toHaveLength(server.replicas);
    // On the chart: under its ClusterRole on the parameters kind and its Role on the Lease.
    const writers = logs.filter((log) => log.includes('parameter copies: created the copy'));
    expect(writers, `replicas that logged a copy: ${writers.length} of ${logs.length}`).toHaveLength(1);
    for (const log of logs) {
      expect(log).not.toMatch(/forbidden/i);
      expect(log).not.toContain('parameter copies: reconcile failed');
      expect(log).not.toContain('parameter copies: write failed');
    }
  });
});
