// Part 5: the largest inputs a tenant can send, timed where they once stalled
// every admission (issue 17 item 5): the view's indexing of one watch event of
// an AgentgatewayBackend with 16,384 refs (the CRD's maximum) and 20,000, all
// into one other namespace; and the grant guard on a ReferenceGrant DELETE in
// a namespace with 4,000 referrers and 4,000 grants. Before the fix: 0.7 s,
// 1.7 s and 0.55 s. And (issue 21 item 1) one review whose refs name 16,384
// distinct ungranted namespaces, denied by the engine with the re-reads of a
// live source: 4.6 s before its fix.
import { AdmissionEngine } from '#dist/admission/admissionEngine.js';
import { GrantRereads } from '#dist/cluster/grantRereads.js';
import { InMemoryClusterView } from '#dist/cluster/inMemoryClusterView.js';
import { buildRuleSet } from '#dist/rules/ruleSet.js';
import { parseConfig, ruleSettings } from '#dist/config/config.js';
import { viewOptionsFor } from '#dist/cluster/inMemoryClusterView.js';
import { referenceGrantGuardRule } from '#dist/rules/referenceGrantGuard.js';
import type { AdmissionRequest } from '#dist/rules/types.js';
import type { KubeObject } from './bodies.ts';
import { median, round } from './util.ts';

const AGENTGATEWAY = 'agentgateway.dev';

function backendWithRefs(count: number) {
  const targets = Array.from({ length: count }, (_, i) => ({
    name: `t${i}`,
    static: { host: 'mcp.example', port: 443, policies: { mcp: { authentication: { jwks: { backendRef: { name: `jwks-${i}`, namespace: 'shared', port: 443 } } } } } },
  }));
  return { apiVersion: `${AGENTGATEWAY}/v1alpha1`, kind: 'AgentgatewayBackend', metadata: { name: 'wide', namespace: 'tenant' }, spec: { mcp: { targets } } };
}

interface Timing {
  median_ms: number;
  max_ms: number;
}

function timeMs(fn: () => void, rounds: number): Timing {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return { median_ms: round(median(times), 2), max_ms: round(Math.max(...times), 2) };
}

/** Indexing one watch event (as a status update re-sends it) of an object with `refs` cross-namespace refs. */
function watchEvent(refs: number, rounds: number): Timing & { refs: number } {
  const settings = ruleSettings(parseConfig({}), 'agentgateway-v2.2');
  const view = new InMemoryClusterView(viewOptionsFor(settings));
  const object = backendWithRefs(refs);
  const timing = timeMs(() => view.upsert(object), rounds);
  const indexed = view.referrersInto('shared')[0]?.targets.length;
  if (indexed !== refs) throw new Error(`worst case: indexed ${indexed} of ${refs} refs`);
  return { refs, ...timing };
}

/** The grant guard's decision on deleting one grant among `grants`, with `referrers` objects referring into the namespace. */
function grantDelete(referrers: number, grants: number, rounds: number): Timing & { referrers: number; grants: number } {
  const objects: KubeObject[] = [];
  for (let i = 0; i < grants; i++) {
    objects.push({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: `grant-${i}`, namespace: 'shared' },
      spec: { from: [{ group: 'gateway.kgateway.dev', kind: 'HTTPListenerPolicy', namespace: `app-${i}` }], to: [{ group: '', kind: 'Service', name: `svc-${i}` }] },
    });
  }
  for (let i = 0; i < referrers; i++) {
    objects.push({
      apiVersion: 'gateway.kgateway.dev/v1alpha1',
      kind: 'HTTPListenerPolicy',
      metadata: { name: `policy-${i}`, namespace: `app-${i}` },
      spec: { accessLog: [{ openTelemetry: { grpcService: { backendRef: { name: `svc-${i}`, namespace: 'shared', port: 4317 } } } }] },
    });
  }
  const settings = ruleSettings(parseConfig({}));
  const view = InMemoryClusterView.fromObjects(objects, viewOptionsFor(settings));
  const rule = referenceGrantGuardRule({ grantGuard: 'warn' });
  const deleted = objects[0]!;
  const request: AdmissionRequest = { uid: 'bench', kind: { group: 'gateway.networking.k8s.io', version: 'v1beta1', kind: 'ReferenceGrant' }, operation: 'DELETE', namespace: 'shared', name: deleted.metadata.name, object: null, oldObject: deleted };
  let warnings = -1;
  const timing = timeMs(() => {
    warnings = rule.decide(request, view).warnings.length;
  }, rounds);
  if (warnings !== 1) throw new Error(`worst case: the guard gave ${warnings} warnings, expected 1`);
  return { referrers, grants, ...timing };
}

/**
 * The engine's answer to one review of an HTTPListenerPolicy whose refs name
 * `namespaces` distinct namespaces, none granted: decided, the first 8
 * namespaces' grants re-read (a LIST answered at once with none), denied.
 */
async function wideDenial(namespaces: number, rounds: number): Promise<Timing & { namespaces: number }> {
  const settings = ruleSettings(parseConfig({}));
  const view = new InMemoryClusterView(viewOptionsFor(settings));
  // A fresh bucket per round, so that every round re-reads 8 namespaces.
  let rereads = new GrantRereads(async () => []);
  const engine = new AdmissionEngine({
    ruleSet: buildRuleSet(settings),
    view,
    reconsider: (asked, decide, decided) => rereads.reconsider(view, asked, decide, decided),
  });
  const accessLog = Array.from({ length: namespaces }, (_, i) => ({ openTelemetry: { grpcService: { backendRef: { name: 'otel-collector', namespace: `ns-${i}`, port: 4317 }, logName: 'otel' } } }));
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'bench-wide',
      kind: { group: 'gateway.kgateway.dev', version: 'v1alpha1', kind: 'HTTPListenerPolicy' },
      operation: 'CREATE',
      namespace: 'tenant',
      object: { apiVersion: 'gateway.kgateway.dev/v1alpha1', kind: 'HTTPListenerPolicy', metadata: { name: 'wide', namespace: 'tenant' }, spec: { accessLog } },
    },
  };
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    rereads = new GrantRereads(async () => []);
    const started = process.hrtime.bigint();
    const outcome = await engine.review('validate', review);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (outcome.decision !== 'denied') throw new Error(`worst case: the wide review was ${outcome.decision}, expected denied`);
  }
  return { namespaces, median_ms: round(median(times), 2), max_ms: round(Math.max(...times), 2) };
}

export interface WorstCaseFigures {
  watch_event: (Timing & { refs: number })[];
  grant_delete: Timing & { referrers: number; grants: number };
  wide_denial: Timing & { namespaces: number };
}

export async function worstCasePart({ rounds }: { rounds: number }): Promise<WorstCaseFigures> {
  return {
    watch_event: [watchEvent(16_384, rounds), watchEvent(20_000, rounds)],
    grant_delete: grantDelete(4_000, 4_000, rounds),
    wide_denial: await wideDenial(16_384, rounds),
  };
}
