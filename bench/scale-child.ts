// The decision half of one size of the scale test, in its own process so its
// memory is its own:
//   node --expose-gc bench/scale-child.ts --grants N [--namespaces 1000] [--iterations K]
// Builds an InMemoryClusterView with N ReferenceGrants spread over the
// namespaces (plus the examples), then times
// AdmissionEngine.review('validate') on HTTPListenerPolicies that refer to
// Services across namespaces (one in four has no grant and is denied).
// Prints one JSON line.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AdmissionEngine } from '#dist/admission/admissionEngine.js';
import { InMemoryClusterView, viewOptionsFor } from '#dist/cluster/inMemoryClusterView.js';
import { loadManifests } from '#dist/cluster/manifests.js';
import * as configModule from '#dist/config/config.js';
import { buildRuleSet } from '#dist/rules/ruleSet.js';
import { admissionBodies, type KubeObject } from './lib/bodies.ts';
import { grant, grantNamespace } from './lib/grants.ts';
import { percentile, REPO_ROOT } from './lib/util.ts';

const { values } = parseArgs({
  options: {
    grants: { type: 'string' },
    namespaces: { type: 'string', default: '1000' },
    iterations: { type: 'string', default: '20000' },
  },
});
const N = Number(values.grants);
const NS = Math.min(Number(values.namespaces), N);
const ITER = Number(values.iterations);
const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
const gc = () => {
  globalThis.gc?.();
  globalThis.gc?.();
};

const examples = (await loadManifests([path.join(REPO_ROOT, 'examples')])).map((m) => m.object as KubeObject);
const settings = configModule.ruleSettings(configModule.parseConfig({}));
// What the manifest source builds (viewOptionsFor: tracked kinds and referrer index).
const viewOptions = viewOptionsFor(settings);
const ruleSet = buildRuleSet(settings);
gc();
const rssBefore = process.memoryUsage().rss;

function* grants() {
  for (let i = 0; i < N; i++) yield grant(i, NS);
}
const t0 = process.hrtime.bigint();
const view = InMemoryClusterView.fromObjects([...examples, ...grants()], viewOptions);
const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
gc();
const rssView = process.memoryUsage().rss;
const engine = new AdmissionEngine({ ruleSet, view });

// The README's policy (granted by the example grant), and policies whose
// backendRef points at svc-i in its namespace: granted (i mod 10 == 0: the
// grant's from is kgateway) or, one in four, not (denied, with the grant to
// create in the message).
const base = JSON.parse(admissionBodies().validate);
function policyReview(targetNs: string, service: string, uid: string): KubeObject {
  const body = structuredClone(base);
  body.request.uid = uid;
  body.request.object.spec.accessLog[0].openTelemetry.grpcService.backendRef = { name: service, namespace: targetNs, port: 4317 };
  return body;
}
const pool = [base];
for (let k = 0; k < 63; k++) {
  const i = Math.floor((k / 63) * N);
  const pick = k % 4 === 3 ? i - (i % 10) + 1 : i - (i % 10);
  pool.push(policyReview(grantNamespace(pick, NS), `svc-${pick}`, `uid-${k}`));
}
const decisions: Partial<Record<string, number>> = {};
for (const body of pool) {
  const d = (await engine.review('validate', body)).decision;
  decisions[d] = (decisions[d] ?? 0) + 1;
}

for (let i = 0; i < 2000; i++) await engine.review('validate', pool[i % pool.length]);
// Five rounds; each percentile is the median of the rounds' values, so one
// unlucky GC pause does not decide the figure.
const denied = new Set<number>();
for (const [k, body] of pool.entries()) if ((await engine.review('validate', body)).decision === 'denied') denied.add(k);
const ROUNDS = 5;
const perRound = Math.ceil(ITER / ROUNDS);
const rounds: number[][] = [];
const byClass: Record<'allowed' | 'denied', number[]> = { allowed: [], denied: [] };
for (let r = 0; r < ROUNDS; r++) {
  gc();
  const times = new Float64Array(perRound);
  for (let i = 0; i < perRound; i++) {
    const k = i % pool.length;
    const s = process.hrtime.bigint();
    await engine.review('validate', pool[k]);
    const ms = Number(process.hrtime.bigint() - s) / 1e6;
    times[i] = ms;
    byClass[denied.has(k) ? 'denied' : 'allowed'].push(ms);
  }
  rounds.push(Array.from(times).sort((a, b) => a - b));
}
const med = (f: (times: number[]) => number) => {
  const xs = rounds.map(f).sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)]!;
};
for (const times of Object.values(byClass)) times.sort((a, b) => a - b);
const all = rounds.flat();
gc();
process.stdout.write(
  `${JSON.stringify({
    grants: view.referenceGrants.size,
    namespaces: NS,
    build_ms: Math.round(buildMs),
    decisions,
    p50_ms: med((t) => percentile(t, 50)),
    p90_ms: med((t) => percentile(t, 90)),
    p99_ms: med((t) => percentile(t, 99)),
    mean_ms: all.reduce((a, b) => a + b, 0) / all.length,
    allowed_p99_ms: percentile(byClass.allowed, 99),
    denied_p99_ms: percentile(byClass.denied, 99),
    rss_before_mib: mib(rssBefore),
    rss_view_mib: mib(rssView),
    rss_end_mib: mib(process.memoryUsage().rss),
    heap_used_mib: mib(process.memoryUsage().heapUsed),
  })}\n`,
);
