// Part 5: the largest inputs a tenant can send, timed where they once stalled
// every admission (issue 17 item 5): the view's indexing of one watch event of
// an AgentgatewayBackend with 16,384 refs (the CRD's maximum) and 20,000, all
// into one other namespace; and the grant guard on a ReferenceGrant DELETE in
// a namespace with 4,000 referrers and 4,000 grants. Before the fix: 0.7 s,
// 1.7 s and 0.55 s.
import { InMemoryClusterView } from '#dist/cluster/inMemoryClusterView.js';
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

export interface WorstCaseFigures {
  watch_event: (Timing & { refs: number })[];
  grant_delete: Timing & { referrers: number; grants: number };
}

export function worstCasePart({ rounds }: { rounds: number }): WorstCaseFigures {
  return {
    watch_event: [watchEvent(16_384, rounds), watchEvent(20_000, rounds)],
    grant_delete: grantDelete(4_000, 4_000, rounds),
  };
}
