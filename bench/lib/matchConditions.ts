// Part "matchconditions": how many writes still reach the webhook once the
// generated matchConditions (src/rules/matchConditions.ts) are registered,
// and what the skipped ones cost. One realistic mix of writes (Gateways of
// several classes, some carrying their own ref; policies mostly
// same-namespace; ReferenceGrant creates, updates and deletes; ConfigMaps)
// goes through a real kube-apiserver four times: no webhook registered, the
// webhooks without conditions (before), with them (after), and with the
// Gateway mutation as the chart's MutatingAdmissionPolicy (mutation.engine:
// policy) beside the validating webhook with conditions. Whether a write
// reached our server is read from its request counter after each write.
import * as cp from '../../harness/index.ts';
import { applyChartPolicy, chartMatchConditions, makeClient, stats, type LatencyStats, type Timed } from './apiserver.ts';
import { log, round } from './util.ts';

type Phase = 'none' | 'all' | 'conditions' | 'policy';
const PHASES: readonly Phase[] = ['none', 'all', 'conditions', 'policy'];
const APPS = ['apps-1', 'apps-2', 'apps-3', 'apps-4'];
const SPARE = 'apps-spare';
const MONITORING = 'monitoring';

/** Share of the mix, per category, in percent (sums to 100). */
const MIX = [
  ['Gateway, agentgateway class, no ref', 12],
  ['Gateway, agentgateway class, own ref', 8],
  ['Gateway, other class', 10],
  ['policy, same namespace', 25],
  ['policy, cross-namespace (granted)', 5],
  ['ReferenceGrant create', 3],
  ['ReferenceGrant label update', 3],
  ['ReferenceGrant spec update', 2],
  ['ReferenceGrant delete', 2],
  ['ConfigMap', 30],
] as const;
type Category = (typeof MIX)[number][0];

/** A deterministic sequence of categories (the same in every phase). */
function mixOf(writes: number): Category[] {
  let seed = 27;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: writes }, () => {
    let x = next() * 100;
    for (const [category, share] of MIX) if ((x -= share) < 0) return category;
    return 'ConfigMap';
  });
}

export interface CategoryFigures {
  writes: number;
  /** Share of this category's writes that reached our server, per phase. */
  called: Partial<Record<Phase, number>>;
  latency: Partial<Record<Phase, LatencyStats>>;
}

export interface MatchConditionFigures {
  kubernetes: string | undefined;
  writes: number;
  categories: Record<string, CategoryFigures>;
  /** Share of all writes that reached our server. */
  called_share: Partial<Record<Phase, number>>;
  /** The writes the conditions skip, in each phase. */
  skipped_latency: Partial<Record<Phase, LatencyStats>>;
  skipped_added_p50_ms: number;
  skipped_added_p99_ms: number;
  /** The Gateways that are mutated: no mutation, the webhook's, the native policy's. */
  mutated_latency: Partial<Record<Phase, LatencyStats>>;
  webhook_added_p50_ms: number;
  policy_added_p50_ms: number;
  policy_skipped?: string;
}

async function requestCount(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith('kgateway_admission_requests_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

export async function matchConditionsPart({ writes, build }: { writes: number; build: boolean }): Promise<MatchConditionFigures | { skipped: string }> {
  const ensured = await cp.ensureControlPlaneBinaries({ build });
  if (!ensured.ok) return { skipped: `${ensured.reason} (build with: ${cp.BUILD_HINT})` };
  const conditions = await chartMatchConditions();

  log('matchconditions: starting etcd + kube-apiserver ...');
  const plane = await cp.startControlPlane({});
  let webhook: cp.WebhookServer | undefined;
  try {
    const request = await makeClient(plane.kubeConfig);
    const must = async (method: string, p: string, body?: unknown): Promise<Timed> => {
      const r = await request(method, p, body);
      if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`);
      return r;
    };
    for (const ns of [...APPS, SPARE, MONITORING]) await must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await must('POST', '/apis/gateway.networking.k8s.io/v1/gatewayclasses', { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'agentgateway' }, spec: { controllerName: 'kgateway.dev/agentgateway' } });
    const grants = (ns: string) => `/apis/gateway.networking.k8s.io/v1beta1/namespaces/${ns}/referencegrants`;
    const grant = (name: string, from: string, to = 'collector') => ({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name },
      spec: { from: [{ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: from }], to: [{ group: '', kind: 'Service', name: to }] },
    });
    for (const ns of APPS) await must('POST', grants(MONITORING), grant(`from-${ns}`, ns));

    webhook = await cp.startWebhookServer({ kubeconfigPath: plane.kubeconfigPath, extraArgs: ['--profile', 'kgateway-v2.1'] });
    const sequence = mixOf(writes);
    const byPhase: Partial<Record<Phase, { category: Category; ms: number; called: boolean; mutated: boolean }[]>> = {};
    let policySkipped: string | undefined;

    for (const phase of PHASES) {
      await cp.unregisterWebhooks(plane.kubeConfig);
      if (phase === 'all' || phase === 'conditions') {
        await cp.registerWebhooks(plane.kubeConfig, { url: webhook.url, caPem: webhook.caPem, ...(phase === 'conditions' ? { matchConditions: conditions } : {}) });
      }
      if (phase === 'policy') {
        const applied = await applyChartPolicy(plane.kubeConfig);
        if (typeof applied === 'string') {
          policySkipped = applied;
          continue;
        }
        await cp.registerWebhooks(plane.kubeConfig, { url: webhook.url, caPem: webhook.caPem, matchConditions: { ...conditions, mutating: [{ name: 'never', expression: 'false' }] } });
        // The policy takes effect asynchronously: wait for a mutated Gateway.
        for (let i = 0; ; i++) {
          const r = await request('POST', `/apis/gateway.networking.k8s.io/v1/namespaces/${SPARE}/gateways?dryRun=All`, gatewayBody(`probe-${i}`, 'agentgateway'));
          if (r.status === 201 && r.body.spec?.infrastructure?.parametersRef) break;
          if (i > 300) throw new Error(`the MutatingAdmissionPolicy did not take effect: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      log(`matchconditions: phase ${phase}, ${writes} writes ...`);
      // Grants that updates and deletes of this phase act on.
      const WARM = 20; // warm-up writes (connections, caches), the sequence's first ones again
      const run = [...sequence.slice(0, WARM), ...sequence];
      const pool = run.filter((c) => c.startsWith('ReferenceGrant') && c !== 'ReferenceGrant create').length;
      for (let i = 0; i < pool; i++) await must('POST', grants(MONITORING), grant(`${phase}-pool-${i}`, SPARE, 'other'));
      let poolNext = 0;
      const rows: { category: Category; ms: number; called: boolean; mutated: boolean }[] = [];
      for (let i = 0; i < run.length; i++) {
        const category = run[i]!;
        const ns = APPS[i % APPS.length]!;
        const name = `${phase}-${i}`;
        const before = await requestCount(webhook.metricsUrl);
        const r = await must(...writeFor(category, ns, name, () => `${phase}-pool-${poolNext++}`));
        const called = (await requestCount(webhook.metricsUrl)) > before;
        if (i < WARM) continue;
        rows.push({ category, ms: r.ms, called, mutated: Boolean(r.body?.spec?.infrastructure?.parametersRef?.name === 'agentgateway-otel') });
      }
      byPhase[phase] = rows;
    }
    await cp.unregisterWebhooks(plane.kubeConfig);
    return figures(plane.versions?.kubernetes, writes, byPhase, policySkipped);
  } finally {
    await webhook?.stop();
    await plane.stop();
  }

  function gatewayBody(name: string, className: string, ownRef = false) {
    return {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name },
      spec: {
        gatewayClassName: className,
        listeners: [{ name: 'http', protocol: 'HTTP', port: 8080 }],
        ...(ownRef ? { infrastructure: { parametersRef: { group: 'gateway.kgateway.dev', kind: 'GatewayParameters', name: 'own' } } } : {}),
      },
    };
  }

  function writeFor(category: Category, ns: string, name: string, poolName: () => string): [string, string, unknown?] {
    const gateways = `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/gateways`;
    const policy = (refNs: string) => ({
      apiVersion: 'gateway.kgateway.dev/v1alpha1',
      kind: 'HTTPListenerPolicy',
      metadata: { name },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
        tracing: { provider: { openTelemetry: { grpcService: { backendRef: { name: 'collector', namespace: refNs, port: 4317 } } } } },
      },
    });
    const grantPath = `/apis/gateway.networking.k8s.io/v1beta1/namespaces/${MONITORING}/referencegrants`;
    switch (category) {
      case 'Gateway, agentgateway class, no ref':
        return ['POST', gateways, gatewayBody(name, 'agentgateway')];
      case 'Gateway, agentgateway class, own ref':
        return ['POST', gateways, gatewayBody(name, 'agentgateway', true)];
      case 'Gateway, other class':
        return ['POST', gateways, gatewayBody(name, name.length % 2 ? 'istio' : 'eg')];
      case 'policy, same namespace':
        return ['POST', `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${ns}/httplistenerpolicies`, policy(ns)];
      case 'policy, cross-namespace (granted)':
        return ['POST', `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${ns}/httplistenerpolicies`, policy(MONITORING)];
      case 'ReferenceGrant create':
        return ['POST', grantPath, { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant', metadata: { name }, spec: { from: [{ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: SPARE }], to: [{ group: '', kind: 'Service' }] } }];
      case 'ReferenceGrant label update':
        return ['PATCH', `${grantPath}/${poolName()}`, { metadata: { labels: { touched: name } } }];
      case 'ReferenceGrant spec update':
        return ['PATCH', `${grantPath}/${poolName()}`, { spec: { to: [{ group: '', kind: 'Service', name: `other-${name}` }] } }];
      case 'ReferenceGrant delete':
        return ['DELETE', `${grantPath}/${poolName()}`];
      case 'ConfigMap':
        return ['POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { key: name } }];
    }
  }
}

function figures(
  kubernetes: string | undefined,
  writes: number,
  byPhase: Partial<Record<Phase, { category: Category; ms: number; called: boolean; mutated: boolean }[]>>,
  policySkipped: string | undefined,
): MatchConditionFigures {
  const categories: Record<string, CategoryFigures> = {};
  const share = (rows: { called: boolean }[]) => round(rows.filter((r) => r.called).length / Math.max(1, rows.length), 3);
  for (const [category] of MIX) {
    const entry: CategoryFigures = { writes: byPhase.none?.filter((r) => r.category === category).length ?? 0, called: {}, latency: {} };
    for (const phase of PHASES) {
      const rows = byPhase[phase]?.filter((r) => r.category === category);
      if (!rows) continue;
      entry.called[phase] = share(rows);
      entry.latency[phase] = stats(rows.map((r) => r.ms));
    }
    categories[category] = entry;
  }
  // The writes the conditions skip: those not called in the conditions phase, by position in the sequence.
  const skippedIndexes = new Set((byPhase.conditions ?? []).flatMap((r, i) => (r.called ? [] : [i])));
  const skipped: Partial<Record<Phase, LatencyStats>> = {};
  const mutated: Partial<Record<Phase, LatencyStats>> = {};
  const mutatedCategory: Category = 'Gateway, agentgateway class, no ref';
  for (const phase of PHASES) {
    const rows = byPhase[phase];
    if (!rows) continue;
    skipped[phase] = stats(rows.filter((_, i) => skippedIndexes.has(i)).map((r) => r.ms));
    mutated[phase] = stats(rows.filter((r) => r.category === mutatedCategory).map((r) => r.ms));
  }
  return {
    kubernetes,
    writes,
    categories,
    called_share: Object.fromEntries(PHASES.flatMap((p) => (byPhase[p] ? [[p, share(byPhase[p]!)]] : []))),
    skipped_latency: skipped,
    skipped_added_p50_ms: round((skipped.conditions?.p50_ms ?? NaN) - (skipped.none?.p50_ms ?? NaN), 3),
    skipped_added_p99_ms: round((skipped.conditions?.p99_ms ?? NaN) - (skipped.none?.p99_ms ?? NaN), 3),
    mutated_latency: mutated,
    webhook_added_p50_ms: round((mutated.conditions?.p50_ms ?? NaN) - (mutated.none?.p50_ms ?? NaN), 3),
    policy_added_p50_ms: round((mutated.policy?.p50_ms ?? NaN) - (mutated.none?.p50_ms ?? NaN), 3),
    ...(policySkipped ? { policy_skipped: policySkipped } : {}),
  };
}
