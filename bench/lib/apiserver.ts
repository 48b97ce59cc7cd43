// Part 3: the cost our webhooks add to a write through a real kube-apiserver.
// Uses the project's control-plane harness (harness/index.ts: etcd +
// kube-apiserver + the Gateway API / kgateway CRDs) and its webhook server
// launcher (`serve --kubeconfig`, the live cluster view). Creates Gateways
// (mutating webhook) and HTTPListenerPolicies (validating webhook) one at a
// time, timed at the client over one keep-alive connection. Phase 1: no
// webhook configuration. Phase 2: our webhooks registered with a
// namespaceSelector that matches the brief's namespace only; creates there
// (webhooks called) alternate with creates in an unlabelled twin namespace
// (not called), so the difference is measured on the same machine at the
// same moments. Phase 1 shows that the skipped path costs what no
// registration costs.
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import * as cp from '../../harness/index.ts';
import { exampleGateway, exampleObject, examplePolicy, type KubeObject } from './bodies.ts';
import { log, percentile, round } from './util.ts';

const LABEL = 'kgateway-admission.bench/webhooks';
// The brief's namespace (our webhooks called there) and a twin they skip.
const ON = 'kgateway';
const OFF = 'kgateway-plain';

/** A client with one keep-alive connection to the API server, timing each request. */
export interface Timed {
  status: number;
  body: KubeObject;
  ms: number;
}

export async function makeClient(kubeConfig: KubeConfig): Promise<(method: string, apiPath: string, body?: unknown) => Promise<Timed>> {
  const cluster = kubeConfig.getCurrentCluster()!;
  const opts: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(opts);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: opts.ca, cert: opts.cert, key: opts.key });
  return function request(method, apiPath, body) {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { ...(opts.headers as Record<string, string> | undefined), accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    return new Promise<Timed>((resolve, reject) => {
      const started = process.hrtime.bigint();
      const req = https.request(new URL(apiPath, cluster.server), { method, headers, agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: KubeObject;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, ms });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath} timed out`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  };
}

export interface LatencyStats {
  n: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
}

export function stats(values: readonly number[]): LatencyStats {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50_ms: round(percentile(s, 50), 3), p90_ms: round(percentile(s, 90), 3), p99_ms: round(percentile(s, 99), 3) };
}

export interface AddedLatency {
  unregistered: LatencyStats;
  without: LatencyStats;
  with: LatencyStats;
  median_added_ms: number;
  p99_added_ms: number;
}

export interface ApiserverFigures extends AddedLatency {
  kubernetes: string | undefined;
  per_kind: number;
  kinds: Record<string, AddedLatency>;
}

/** Figures, or why the part was skipped. */
export async function apiserverPart({ perKind, build }: { perKind: number; build: boolean }): Promise<ApiserverFigures | { skipped: string }> {
  const ensured = await cp.ensureControlPlaneBinaries({ build });
  if (!ensured.ok) return { skipped: `${ensured.reason} (build with: ${cp.BUILD_HINT})` };

  log('starting etcd + kube-apiserver and installing CRDs ...');
  const t0 = Date.now();
  const plane = await cp.startControlPlane({});
  let webhook: cp.WebhookServer | undefined;
  try {
    log(`control plane ready in ${Date.now() - t0} ms (kube-apiserver ${plane.versions?.kubernetes ?? ''})`);
    const request = await makeClient(plane.kubeConfig);
    const must = async (method: string, p: string, body: unknown) => {
      const r = await request(method, p, body);
      if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`);
      return r;
    };
    for (const ns of [ON, OFF, 'monitoring']) {
      await must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: ns === ON ? { [LABEL]: 'on' } : {} } });
    }
    await must('POST', '/apis/gateway.networking.k8s.io/v1/gatewayclasses', exampleObject('10-gatewayclass.yaml'));
    await must('POST', '/apis/gateway.kgateway.dev/v1alpha1/namespaces/kgateway/gatewayparameters', exampleObject('20-gatewayparameters.yaml'));
    await must('POST', '/apis/gateway.networking.k8s.io/v1beta1/namespaces/monitoring/referencegrants', exampleObject('30-referencegrant.yaml'));

    webhook = await cp.startWebhookServer({ kubeconfigPath: plane.kubeconfigPath });
    log(`webhook server (live view) ready at ${webhook.url}`);

    let seq = 0;
    const createGateway = (ns: string) => request('POST', `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/gateways`, exampleGateway(`bench-gw-${++seq}`, ns));
    const createPolicy = (ns: string) =>
      request('POST', `/apis/gateway.kgateway.dev/v1alpha1/namespaces/${ns}/httplistenerpolicies`, examplePolicy(`bench-policy-${++seq}`, ns));
    const created = (name: string, r: Timed) => {
      if (r.status !== 201) throw new Error(`${name}: create answered ${r.status}: ${JSON.stringify(r.body).slice(0, 400)}`);
      return r;
    };
    const patched = (r: Timed) => Boolean(r.body?.spec?.infrastructure?.parametersRef);

    // Phase 1: no webhook configuration at all.
    log(`phase 1: ${perKind} Gateways + ${perKind} HTTPListenerPolicies, webhooks not registered ...`);
    type ByKind = Record<'gateway' | 'policy', number[]>;
    const unregistered: ByKind = { gateway: [], policy: [] };
    const WARM = 25; // the API server is fresh: its first writes of a kind are slower
    for (let i = 0; i < perKind + WARM; i++) {
      const g = created('not registered', await createGateway(ON));
      const p = created('not registered', await createPolicy(ON));
      if (patched(g)) throw new Error('a Gateway was mutated while no webhook was registered');
      if (i < WARM) continue;
      unregistered.gateway.push(g.ms);
      unregistered.policy.push(p.ms);
    }

    // Phase 2: registered for namespaces labelled ON only; creates alternate
    // between ON (our webhooks called) and OFF (not called), so both sides see
    // the same machine at the same moments.
    await cp.registerWebhooks(plane.kubeConfig, { url: webhook.url, caPem: webhook.caPem, namespaceSelector: { matchLabels: { [LABEL]: 'on' } } });
    log(`phase 2: ${perKind} of each kind with our webhooks called, interleaved with ${perKind} of each without ...`);
    const on: ByKind = { gateway: [], policy: [] };
    const off: ByKind = { gateway: [], policy: [] };
    for (let i = 0; i < perKind + 5; i++) {
      const order = i % 2 === 0 ? [ON, OFF] : [OFF, ON];
      for (const ns of order) {
        const g = created(`registered (${ns})`, await createGateway(ns));
        const p = created(`registered (${ns})`, await createPolicy(ns));
        if (patched(g) !== (ns === ON)) throw new Error(`a Gateway in ${ns} was ${ns === ON ? 'not ' : ''}mutated: the webhook registration is not what the bench expects`);
        if (i < 5) continue; // warm-up: the API server's connections to the webhook
        const into = ns === ON ? on : off;
        into.gateway.push(g.ms);
        into.policy.push(p.ms);
      }
    }
    await cp.unregisterWebhooks(plane.kubeConfig);

    const kinds: Record<string, AddedLatency> = {};
    const all: Record<'on' | 'off' | 'unregistered', number[]> = { on: [], off: [], unregistered: [] };
    for (const kind of ['gateway', 'policy'] as const) {
      const a = stats(off[kind]);
      const b = stats(on[kind]);
      const u = stats(unregistered[kind]);
      all.on.push(...on[kind]);
      all.off.push(...off[kind]);
      all.unregistered.push(...unregistered[kind]);
      kinds[kind === 'gateway' ? 'Gateway (mutate)' : 'HTTPListenerPolicy (validate)'] = {
        unregistered: u,
        without: a,
        with: b,
        median_added_ms: round(b.p50_ms - a.p50_ms, 3),
        p99_added_ms: round(b.p99_ms - a.p99_ms, 3),
      };
    }
    const a = stats(all.off);
    const b = stats(all.on);
    return {
      kubernetes: plane.versions?.kubernetes,
      per_kind: perKind,
      kinds,
      unregistered: stats(all.unregistered),
      without: a,
      with: b,
      median_added_ms: round(b.p50_ms - a.p50_ms, 3),
      p99_added_ms: round(b.p99_ms - a.p99_ms, 3),
    };
  } finally {
    await webhook?.stop();
    await plane.stop();
  }
}
