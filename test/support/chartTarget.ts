// The chart installed in a real cluster (kind) as an e2e target: the
// cluster is shared by the suites of a run, so each suite starts by clearing
// what the previous one left (every namespace but the system ones, every
// GatewayClass), and gets its server by `helm upgrade --reset-values` with the
// values it needs, waiting until the new pods are the only ones and the API
// server calls them. The pods are reached through the API server's pod proxy
// (their IPs are inside the cluster's network), so nothing here depends on how
// the cluster's network is built.
import { KubeConfig } from '@kubernetes/client-node';
import { gateway } from './builders.js';
import { CHART_DIR, helmBinary, runHelm, valuesArgs } from '../chart/support.js';
import { kubeRequest, type KubeResponse } from '../../harness/index.ts';
import { httpListenerPolicy } from './builders.js';
import { sumMetric, type E2eCluster, type E2eTarget, type ReplicaAnswer, type TargetName, type WebhookUnderTest } from './e2eTarget.js';
import { parametersKindAnswered } from './gatewayMutation.js';

/** A cluster with the chart installed, as a target's bring-up leaves it. */
export interface ChartCluster {
  kubeconfigPath: string;
  release: string;
  namespace: string;
  /** Values every install gets (the image the cluster has). */
  baseValues: Record<string, unknown>;
}

/** Namespaces a suite's reset leaves alone (local-path-storage: kind's storage provisioner). */
const SYSTEM_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']);
/** Where the target's own probes run (dry-run only: nothing is stored). */
export const PROBE_NAMESPACE = 'kga-e2e-probe';
const SERVER_PORT = 8443;
const METRICS_PORT = 9090;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function chartTarget(name: Exclude<TargetName, 'process'>, skip: string | undefined): Promise<E2eTarget> {
  let chart: ChartCluster | undefined;
  const bringUp = async (): Promise<ChartCluster> => {
    if (chart) return chart;
    chart = await (await import('./kindTarget.js')).ensureKindWithChart();
    return chart;
  };
  const excluded = new Map<E2eCluster, string[]>();
  return {
    name,
    skip,
    async startCluster(options = {}) {
      const c = await bringUp();
      const kc = new KubeConfig();
      kc.loadFromFile(c.kubeconfigPath);
      await resetCluster(kc, c, options.gatewayClasses);
      for (const ns of [PROBE_NAMESPACE, ...(options.namespaces ?? [])]) await ensureNamespace(kc, ns);
      const cluster: E2eCluster = {
        kubeConfig: kc,
        kubeconfigPath: c.kubeconfigPath,
        server: kc.getCurrentCluster()!.server,
        chart: { release: c.release, namespace: c.namespace, fullname: fullname(c) },
        stop: async () => undefined,
      };
      if (options.withoutWebhookIn?.length) {
        excluded.set(cluster, options.withoutWebhookIn);
        await installChart(kc, c, { excludeNamespaces: options.withoutWebhookIn });
        // Excluded once an ungranted policy there passes (the API server has the new selector).
        await waitFor(`the webhooks to leave out ${options.withoutWebhookIn[0]}`, async () => {
          const res = await kubeRequest(kc, 'POST', `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${options.withoutWebhookIn![0]}/httplistenerpolicies?dryRun=All`, { body: httpListenerPolicy({ name: 'exclusion-probe', namespace: options.withoutWebhookIn![0] }) });
          return res.status === 201;
        }, 60_000);
      }
      return cluster;
    },
    async startWebhook(cluster, options = {}) {
      const c = await bringUp();
      const chartValues = options.config ? deepMerge(options.chartValues ?? {}, { config: options.config }) : options.chartValues;
      const replicas = await installChart(cluster.kubeConfig, c, { profile: options.profile, chartValues, excludeNamespaces: excluded.get(cluster) });
      return chartWebhook(cluster.kubeConfig, c, replicas);
    },
  };
}

// ---------------------------------------------------------------------------

async function ensureNamespace(kc: KubeConfig, name: string): Promise<void> {
  const res = await kubeRequest(kc, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
  if (res.status !== 201 && res.status !== 409) throw new Error(`namespace ${name}: ${res.status} ${res.text}`);
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await probe()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function ok(res: KubeResponse, what: string): KubeResponse {
  if (res.status < 200 || res.status >= 300) throw new Error(`${what}: ${res.status} ${res.text.slice(0, 500)}`);
  return res;
}

/**
 * What the previous suite left: every namespace but the system ones, the
 * release's (unless `keepReleaseNamespace` is false: a scenario that installs
 * the chart afresh) and the probe's; every GatewayClass.
 */
export async function resetCluster(kc: KubeConfig, c: ChartCluster, gatewayClasses: string[] = [], { keepReleaseNamespace = true } = {}): Promise<void> {
  const t0 = performance.now();
  const keep = new Set([...SYSTEM_NAMESPACES, ...(keepReleaseNamespace ? [c.namespace] : []), PROBE_NAMESPACE]);
  const list = ok(await kubeRequest(kc, 'GET', '/api/v1/namespaces'), 'listing namespaces').body.items as { metadata: { name: string } }[];
  const doomed = list.map((n) => n.metadata.name).filter((n) => !keep.has(n));
  // Pods first, at once (their owners before them, so none comes back): the
  // namespace controller otherwise waits out their termination grace period
  // (30 s for the chart's and cert-manager's) before it looks again, though
  // they are gone in a few seconds.
  for (const ns of doomed) {
    for (const owners of ['deployments', 'replicasets', 'statefulsets', 'daemonsets']) await kubeRequest(kc, 'DELETE', `/apis/apps/v1/namespaces/${ns}/${owners}`);
    await kubeRequest(kc, 'DELETE', `/api/v1/namespaces/${ns}/pods?gracePeriodSeconds=0`);
  }
  for (const ns of doomed) await kubeRequest(kc, 'DELETE', `/api/v1/namespaces/${ns}`);
  const classes = (await kubeRequest(kc, 'GET', '/apis/gateway.networking.k8s.io/v1/gatewayclasses')).body.items as { metadata: { name: string } }[] | undefined;
  for (const name of new Set([...(classes ?? []).map((g) => g.metadata.name), ...gatewayClasses])) {
    await kubeRequest(kc, 'DELETE', `/apis/gateway.networking.k8s.io/v1/gatewayclasses/${name}`);
  }
  // A finalizer a failed test left would hold its namespace in Terminating: let those go.
  await waitFor(`namespaces ${doomed.join(', ')} to be deleted`, async () => {
    const left: string[] = [];
    for (const ns of doomed) if ((await kubeRequest(kc, 'GET', `/api/v1/namespaces/${ns}`)).status !== 404) left.push(ns);
    if (left.length > 0) await releaseFinalizers(kc, left);
    return left.length === 0;
  }, 180_000, 500);
  process.stderr.write(`[e2e] cleared ${doomed.length} namespaces of the previous suite in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

async function releaseFinalizers(kc: KubeConfig, namespaces: string[]): Promise<void> {
  for (const ns of namespaces) {
    for (const path of [`/apis/gateway.kgateway.dev/v1alpha1/namespaces/${ns}/httplistenerpolicies`, `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${ns}/listenerpolicies`]) {
      const items = ((await kubeRequest(kc, 'GET', path)).body?.items ?? []) as { metadata: { name: string; finalizers?: string[] } }[];
      for (const item of items.filter((i) => i.metadata.finalizers?.length)) {
        await kubeRequest(kc, 'PATCH', `${path}/${item.metadata.name}`, { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' });
      }
    }
  }
}

interface ChartValues {
  profile?: string;
  excludeNamespaces?: string[];
  chartValues?: Record<string, unknown>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = isObject(value) && isObject(out[key]) ? deepMerge(out[key] as Record<string, unknown>, value) : value;
  return out;
}

const fullname = (c: ChartCluster) => (c.release.includes('kgateway-admission') ? c.release : `${c.release}-kgateway-admission`);
const podSelector = (c: ChartCluster) => encodeURIComponent(`app.kubernetes.io/name=kgateway-admission,app.kubernetes.io/instance=${c.release}`);

interface PodInfo {
  name: string;
  ready: boolean;
  terminating: boolean;
}

async function chartPods(kc: KubeConfig, c: ChartCluster): Promise<PodInfo[]> {
  const res = ok(await kubeRequest(kc, 'GET', `/api/v1/namespaces/${c.namespace}/pods?labelSelector=${podSelector(c)}`), 'listing the chart pods');
  return (res.body.items as { metadata: { name: string; deletionTimestamp?: string }; status: { conditions?: { type: string; status: string }[] } }[]).map((p) => ({
    name: p.metadata.name,
    ready: p.status.conditions?.some((cond) => cond.type === 'Ready' && cond.status === 'True') ?? false,
    terminating: Boolean(p.metadata.deletionTimestamp),
  }));
}

/** `helm upgrade --reset-values` with the suite's values; resolves once only the new pods run and the API server calls them. */
export async function installChart(kc: KubeConfig, c: ChartCluster, values: ChartValues): Promise<number> {
  const t0 = performance.now();
  const helm = await helmBinary();
  let suiteValues = deepMerge(c.baseValues, values.chartValues ?? {});
  if (values.profile) suiteValues = deepMerge(suiteValues, { config: { profile: values.profile } });
  if (values.excludeNamespaces?.length) suiteValues = deepMerge(suiteValues, { webhooks: { excludeNamespaces: values.excludeNamespaces } });
  const res = await runHelm(helm, ['upgrade', '--install', c.release, CHART_DIR, '--namespace', c.namespace, '--create-namespace', '--kubeconfig', c.kubeconfigPath, '--reset-values', ...(await valuesArgs(suiteValues)), '--wait', '--timeout', '5m'], {});
  if (res.code !== 0) throw new Error(`helm upgrade ${c.release}: ${res.stderr || res.stdout}`);
  const replicas = Number(ok(await kubeRequest(kc, 'GET', `/apis/apps/v1/namespaces/${c.namespace}/deployments/${fullname(c)}`), 'the Deployment').body.spec.replicas);
  // helm --wait is satisfied once the new ReplicaSet is ready; the old pods may still be terminating (preStop).
  await waitFor(`only the ${replicas} new pods of ${fullname(c)} to run, all Ready`, async () => {
    const pods = await chartPods(kc, c);
    return pods.length === replicas && pods.every((p) => p.ready && !p.terminating);
  }, 180_000);
  const expectedKind = values.profile === 'kgateway-v2.1' ? 'GatewayParameters' : 'AgentgatewayParameters';
  await waitFor(`the API server to call the new pods (a Gateway comes back with a ${expectedKind} ref, or the warning that none is there)`, async () => {
    const res = await kubeRequest(kc, 'POST', `/apis/gateway.networking.k8s.io/v1/namespaces/${PROBE_NAMESPACE}/gateways?dryRun=All`, { body: gateway({ name: 'target-probe', namespace: PROBE_NAMESPACE }) });
    return res.status === 201 && parametersKindAnswered(res) === expectedKind;
  }, 60_000);
  process.stderr.write(`[e2e] helm upgrade (${JSON.stringify(values)}) to pods called: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  return replicas;
}

function chartWebhook(kc: KubeConfig, c: ChartCluster, replicas: number): WebhookUnderTest {
  const proxied = async (pod: string, scheme: 'https' | 'http', port: number, path: string, body?: string): Promise<ReplicaAnswer> => {
    const prefix = scheme === 'https' ? 'https:' : '';
    const res = await kubeRequest(kc, body === undefined ? 'GET' : 'POST', `/api/v1/namespaces/${c.namespace}/pods/${prefix}${pod}:${port}/proxy${path}`, body === undefined ? {} : { body });
    return { status: res.status, text: res.text, json: () => JSON.parse(res.text) };
  };
  const names = async () => (await chartPods(kc, c)).filter((p) => !p.terminating).map((p) => p.name);
  const metricsText = async () =>
    Promise.all((await names()).map(async (pod) => {
      const res = await proxied(pod, 'http', METRICS_PORT, '/metrics');
      if (res.status !== 200) throw new Error(`/metrics of ${pod}: ${res.status} ${res.text.slice(0, 300)}`);
      return res.text;
    }));
  const metricPerReplica = async (name: string, labels: Record<string, string> = {}) => (await metricsText()).map((text) => sumMetric(text, name, labels));
  let stopped = false;
  return {
    replicas,
    metricsText,
    logs: async () => Promise.all((await names()).map(async (pod) => ok(await kubeRequest(kc, 'GET', `/api/v1/namespaces/${c.namespace}/pods/${pod}/log`), `log of ${pod}`).text)),
    metricPerReplica,
    metric: async (name, labels) => (await metricPerReplica(name, labels)).reduce((a, b) => a + b, 0),
    reviewEachReplica: async (path, body) => Promise.all((await names()).map((pod) => proxied(pod, 'https', SERVER_PORT, path, body))),
    getEachReplica: async (path) => Promise.all((await names()).map((pod) => proxied(pod, 'https', SERVER_PORT, path))),
    async stopAll() {
      ok(await kubeRequest(kc, 'PATCH', `/apis/apps/v1/namespaces/${c.namespace}/deployments/${fullname(c)}/scale`, { body: { spec: { replicas: 0 } }, contentType: 'application/merge-patch+json' }), 'scaling to 0');
      await waitFor('every pod of the chart to be gone', async () => (await chartPods(kc, c)).length === 0, 120_000);
      stopped = true;
    },
    async setFailurePolicy(policy) {
      for (const plural of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations']) {
        const path = `/apis/admissionregistration.k8s.io/v1/${plural}/${fullname(c)}`;
        const config = ok(await kubeRequest(kc, 'GET', path), path).body as { webhooks: { failurePolicy: string }[] };
        const patch = config.webhooks.map((_, i) => ({ op: 'replace', path: `/webhooks/${i}/failurePolicy`, value: policy }));
        ok(await kubeRequest(kc, 'PATCH', path, { body: patch, contentType: 'application/json-patch+json' }), `patching ${path}`);
      }
      if (!stopped) return;
      // With no pod, the new policy shows in the answer to a matched write once the API server has it.
      await waitFor(`failurePolicy ${policy} to take effect`, async () => {
        const res = await kubeRequest(kc, 'POST', `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${PROBE_NAMESPACE}/httplistenerpolicies?dryRun=All`, { body: httpListenerPolicy({ name: 'policy-probe', namespace: PROBE_NAMESPACE }) });
        return policy === 'Ignore' ? res.status === 201 : res.status === 500;
      }, 60_000, 100);
    },
    // The next suite's helm upgrade puts back the replicas and failurePolicy (three-way merge with the live objects).
    release: async () => undefined,
  };
}
