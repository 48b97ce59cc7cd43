// Losing pods on a real node (kind's or the bare one). One pod deleted (or evicted) under a steady
// load of writes: the other answers, no write fails, and the
// PodDisruptionBudget refuses to evict the last one. Both pods gone with
// failurePolicy Fail: only the writes a rule must decide fail, with the API
// server's clear error; the generated matchConditions let every other write
// through (Gateways with their own ref or opted out, same-namespace policies,
// other kinds; with classes matched by name only, Gateways of other classes
// too), and all recovers when the pods return. Figures: docs/real-node.md.
import { beforeAll, describe, expect, it } from 'vitest';
import { backendRef, gateway, httpListenerPolicy, referenceGrant } from '../../support/builders.js';
import { kubeRequest } from '../../../harness/index.ts';
import { CHART_DIR } from '../../chart/support.js';
import { describeLoad, startWriteLoad } from '../../support/writeLoad.js';
import { create, ensureNamespaces, PATHS, pollUntil } from '../support.js';
import { DEPLOYMENT_PATH, pdbState, RELEASE, RELEASE_NS, scenarioCluster, scenarioTarget, serviceEndpoints, waitRolledOut, webhookPods, type ScenarioCluster } from './cluster.js';
import { mutatingWebhookAnswered } from '../../support/gatewayMutation.js';

const target = scenarioTarget('losing pods under load');
const LOAD_NS = 'podloss-load';
const OTHER_NS = 'podloss-other';
const RATE = 30;

async function scale(cluster: ScenarioCluster, replicas: number): Promise<void> {
  const res = await kubeRequest(cluster.kc, 'PATCH', `${DEPLOYMENT_PATH}/scale`, {
    body: { spec: { replicas } },
    contentType: 'application/merge-patch+json',
  });
  if (res.status !== 200) throw new Error(`scaling to ${replicas}: ${res.status} ${res.text}`);
}

function evict(cluster: ScenarioCluster, pod: string) {
  return kubeRequest(cluster.kc, 'POST', `/api/v1/namespaces/${RELEASE_NS}/pods/${pod}/eviction`, {
    body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: RELEASE_NS } },
  });
}

/**
 * What a TCP connection to the Service's ClusterIP meets from the node:
 * `connected`, `timeout`, or the error code (ECONNREFUSED once kube-proxy has
 * seen that no endpoint is left and rejects it).
 */
async function clusterIpAnswer(cluster: ScenarioCluster): Promise<string> {
  const svc = await kubeRequest(cluster.kc, 'GET', `/api/v1/namespaces/${RELEASE_NS}/services/${RELEASE}`);
  if (svc.status !== 200) throw new Error(`reading the Service: ${svc.status} ${svc.text}`);
  const script = `const s = require('node:net').connect({ host: process.argv[1], port: 443, timeout: 2000 });
s.on('connect', () => { console.log('connected'); s.destroy(); });
s.on('timeout', () => { console.log('timeout'); s.destroy(); });
s.on('error', (e) => console.log(e.code ?? e.message));`;
  return (await cluster.inNode(process.execPath, ['-e', script, svc.body.spec.clusterIP])).output.trim();
}

/**
 * Both pods gone, as the API server will find it. Where it calls webhooks
 * through the Service's ClusterIP (on kind, as kubeadm sets it up), kube-proxy must have
 * caught up too: until then the ClusterIP still leads to a deleted pod's
 * address and a call waits out its timeout instead of being refused.
 */
async function waitBothPodsGone(cluster: ScenarioCluster): Promise<void> {
  const kc = cluster.kc;
  await pollUntil('no webhook pod left', async () => ((await webhookPods(kc)).length === 0 ? true : undefined), 120_000, 250);
  await pollUntil('no endpoint in the Service', async () => ((await serviceEndpoints(kc)).some((e) => e.ready) ? undefined : true), 60_000, 250);
  const seen: string[] = [];
  const { ms } = await pollUntil('connections to the Service refused (kube-proxy: no endpoint left)', async () => {
    const answer = await clusterIpAnswer(cluster);
    seen.push(answer);
    return answer === 'ECONNREFUSED' ? true : undefined;
  }, 60_000, 250);
  process.stderr.write(`[e2e] both pods gone: the ClusterIP refused connections ${(ms / 1000).toFixed(1)} s after the EndpointSlice had no ready endpoint (before: ${seen.slice(0, -1).join(', ') || 'nothing'})\n`);
}

describe.skipIf(target.skip)('losing the chart\'s pods on a real node', () => {
  let cluster: ScenarioCluster;

  beforeAll(async () => {
    cluster = await scenarioCluster(target.name);
    await ensureNamespaces(cluster.kc, LOAD_NS, OTHER_NS);
    await waitRolledOut(cluster.kc, 120_000);
  }, 2_400_000);

  it(`one pod deleted, then one evicted (the PodDisruptionBudget refusing the second), under ${RATE} writes/s: 0 failed writes`, async () => {
    const kc = cluster.kc;
    const load = startWriteLoad(kc, { namespace: LOAD_NS, ratePerSecond: RATE });
    let evictions: { first: number; second: number; secondMessage: string } | undefined;
    let recovered = 0;
    try {
      await new Promise((r) => setTimeout(r, 5_000));
      const [victim] = await webhookPods(kc);
      const t0 = performance.now();
      const del = await kubeRequest(kc, 'DELETE', `/api/v1/namespaces/${RELEASE_NS}/pods/${victim!.name}`);
      expect(del.status, del.text).toBe(200);
      await pollUntil('the deleted pod to be gone', async () => ((await webhookPods(kc)).some((p) => p.name === victim!.name) ? undefined : true), 120_000, 250);
      recovered = performance.now() - t0 + (await waitRolledOut(kc));
      process.stderr.write(`[e2e] one pod deleted: 2 ready again after ${(recovered / 1000).toFixed(1)} s; ${load.failures.length} failed writes so far\n`);

      await new Promise((r) => setTimeout(r, 5_000));
      const [a, b] = await webhookPods(kc);
      const first = await evict(cluster, a!.name);
      const second = await evict(cluster, b!.name);
      evictions = { first: first.status, second: second.status, secondMessage: String(second.body?.message ?? second.text) };
      process.stderr.write(`[e2e] evictions: the first ${first.status}, the second at once ${second.status}: ${evictions.secondMessage}\n`);
      await pollUntil('the evicted pod to be gone', async () => ((await webhookPods(kc)).some((p) => p.name === a!.name) ? undefined : true), 120_000, 250);
      await waitRolledOut(kc);
      await new Promise((r) => setTimeout(r, 5_000));
    } finally {
      const report = await load.stop();
      process.stderr.write(describeLoad('one pod deleted, one evicted', report));
      expect(report.failures, describeLoad('one pod lost', report)).toEqual([]);
      expect(report.ratePerSecond).toBeGreaterThanOrEqual(20);
    }
    expect(evictions?.first).toBe(201);
    // The PodDisruptionBudget (minAvailable 1) keeps the last ready pod.
    expect(evictions?.second, evictions?.secondMessage).toBe(429);
    expect(evictions?.secondMessage).toMatch(/disruption budget/i);
    expect((await pdbState(kc)).currentHealthy).toBe(2);
  }, 600_000);

  it('both pods gone (failurePolicy Fail): Gateways and policies fail with a clear error, ConfigMaps and Services go through; all recovers when the pods return', async () => {
    const kc = cluster.kc;
    await scale(cluster, 0);
    await waitBothPodsGone(cluster);

    const gw = await create(kc, PATHS.gateways(OTHER_NS), gateway({ name: 'while-down', namespace: OTHER_NS }));
    expect(gw.status, gw.text).toBeGreaterThanOrEqual(500);
    expect(gw.body.message).toMatch(/failed calling webhook "gateways\.mutate\.kgateway-admission\.kgateway\.dev"/);
    expect(gw.body.message).toMatch(/no endpoints available for service|connection refused|no route to host/);
    const policy = await create(kc, PATHS.httpListenerPolicies(OTHER_NS), httpListenerPolicy({ name: 'while-down', namespace: OTHER_NS }));
    expect(policy.status, policy.text).toBeGreaterThanOrEqual(500);
    expect(policy.body.message).toMatch(/failed calling webhook "policies\.validate\.kgateway-admission\.kgateway\.dev"/);
    process.stderr.write(`[e2e] both pods gone: a Gateway write answers ${gw.status}: ${gw.body.message}\n`);

    // Writes no rule can act on: the matchConditions keep them from the webhook.
    const ownRef = await create(kc, PATHS.gateways(OTHER_NS), gateway({
      name: 'own-ref-while-down', namespace: OTHER_NS,
      spec: { infrastructure: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'own' } } },
    }));
    expect(ownRef.status, ownRef.text).toBe(201);
    const optedOut = await create(kc, PATHS.gateways(OTHER_NS), gateway({ name: 'opted-out-while-down', namespace: OTHER_NS, annotations: { 'kgateway-admission.dev/skip': 'true' } }));
    expect(optedOut.status, optedOut.text).toBe(201);
    const local = await create(kc, PATHS.httpListenerPolicies(OTHER_NS), httpListenerPolicy({ name: 'local-while-down', namespace: OTHER_NS, otelAccessLogRefs: [backendRef({ namespace: OTHER_NS })] }));
    expect(local.status, local.text).toBe(201);
    // Classes are matched by controllerName too (the profile's): a Gateway of
    // any class may be an agentgateway one, so it still needs the webhook.
    const otherClass = await create(kc, PATHS.gateways(OTHER_NS), gateway({ name: 'istio-while-down', namespace: OTHER_NS, className: 'istio' }));
    expect(otherClass.status, otherClass.text).toBeGreaterThanOrEqual(500);

    // Kinds no webhook matches are unaffected.
    const cm = await create(kc, `/api/v1/namespaces/${OTHER_NS}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'while-down' }, data: { a: 'b' } });
    expect(cm.status, cm.text).toBe(201);
    const svc = await create(kc, `/api/v1/namespaces/${OTHER_NS}/services`, {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'while-down' }, spec: { ports: [{ port: 80 }], selector: { app: 'x' } },
    });
    expect(svc.status, svc.text).toBe(201);
    // ReferenceGrants: created (no webhook on CREATE) and deleted (the grant guard is failurePolicy Ignore).
    const grant = await create(kc, PATHS.referenceGrants(OTHER_NS), referenceGrant({ name: 'while-down', namespace: OTHER_NS, from: [{ namespace: LOAD_NS }] }));
    expect(grant.status, grant.text).toBe(201);
    const delGrant = await kubeRequest(kc, 'DELETE', `${PATHS.referenceGrants(OTHER_NS)}/while-down`);
    expect(delGrant.status, delGrant.text).toBe(200);

    const t0 = performance.now();
    await scale(cluster, 2);
    const { ms } = await pollUntil('a Gateway write to be admitted and mutated again', async () => {
      const res = await create(kc, PATHS.gateways(OTHER_NS), gateway({ name: 'after', namespace: OTHER_NS }), { dryRun: true });
      return mutatingWebhookAnswered(res) ? true : undefined;
    }, 180_000, 250);
    process.stderr.write(`[e2e] both pods back: the first Gateway admitted ${((performance.now() - t0) / 1000).toFixed(1)} s after scaling to 2 (${(ms / 1000).toFixed(1)} s of polling)\n`);
    await waitRolledOut(kc);
    const load = startWriteLoad(kc, { namespace: LOAD_NS, ratePerSecond: RATE, namePrefix: 'after-recovery' });
    await new Promise((r) => setTimeout(r, 10_000));
    const report = await load.stop();
    process.stderr.write(describeLoad('after the pods returned', report));
    expect(report.failures).toEqual([]);
  }, 600_000);

  it('both pods gone, classes matched by name only (gatewayControllerNames: []): a Gateway of another class goes through, one of a listed class fails', async () => {
    const kc = cluster.kc;
    const upgrade = (json: string) => cluster.helm([
      'upgrade', RELEASE, CHART_DIR, '--namespace', RELEASE_NS, '--reuse-values', '--set-json', json, '--wait', '--timeout', '5m',
    ]);
    const byName = await upgrade('config.mutation.gatewayControllerNames=[]');
    expect(byName.code, byName.output).toBe(0);
    try {
      const hook = await kubeRequest(kc, 'GET', `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${RELEASE}`);
      expect((hook.body.webhooks[0].matchConditions as { name: string }[]).map((c) => c.name)).toContain('gateway-class-by-name');
      await scale(cluster, 0);
      await waitBothPodsGone(cluster);

      const otherClass = await create(kc, PATHS.gateways(OTHER_NS), gateway({ name: 'istio-by-name', namespace: OTHER_NS, className: 'istio' }));
      expect(otherClass.status, otherClass.text).toBe(201);
      expect(otherClass.body.spec.infrastructure).toBeUndefined();
      const ours = await create(kc, PATHS.gateways(OTHER_NS), gateway({ name: 'ours-by-name', namespace: OTHER_NS }));
      expect(ours.status, ours.text).toBeGreaterThanOrEqual(500);
      expect(ours.body.message).toMatch(/failed calling webhook "gateways\.mutate\.kgateway-admission\.kgateway\.dev"/);
    } finally {
      // Back to the profile's controller names, and both pods (helm sets replicas again).
      const back = await upgrade('config.mutation.gatewayControllerNames=null');
      expect(back.code, back.output).toBe(0);
      await waitRolledOut(kc);
    }
  }, 900_000);
});
